"""``drmkit inspect``: show the tracks, encryption and PSSH boxes of protected MP4 files."""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from drmkit.cli import app, stdout_console
from drmkit.cli.common import fail, load_settings, open_container
from drmkit.media import MediaError, MediaFormatError, parse
from drmkit.media.initdata import Describer, describe_init_data
from drmkit.media.inspect import inspect_report
from drmkit.media.source import MediaInput

if TYPE_CHECKING:
    from drmkit.settings import Settings


@app.command("inspect")
def inspect(
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="MP4 file, or an init segment followed by media segments."),
    ] = None,
    init_data: Annotated[
        str | None,
        typer.Option(
            "--init-data",
            help="Inspect raw init data instead (base64): pssh box(es), a PlayReady object, "
            "or keyids JSON.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show each track's encryption (scheme, KID, IV, pattern) and every PSSH box.

    Exit code 2 when the input is unusable (not base64, not init data, not MP4): inspecting only
    reads what it is given.
    """
    describe = plugin_describer(load_settings())
    if init_data is not None:
        try:
            raw = base64.b64decode(init_data, validate=True)
        except binascii.Error as exc:
            fail(f"--init-data is not base64: {exc}")
        try:
            report = describe_init_data(raw, describe)
        except MediaFormatError as exc:
            fail(f"init data: {exc}")
        _show(report, as_json, None)
        return
    if not files:
        fail("give one or more files, or --init-data")
    try:
        with MediaInput.open(files) as source:
            try:
                media = parse(source.buffer)
            except MediaFormatError as exc:
                fail(source.describe(exc))
            report = {"inputs": [str(f) for f in files], **inspect_report(media, describe)}
            _show(report, as_json, source)
    except MediaError as exc:
        fail(str(exc))


def _show(report: dict[str, Any], as_json: bool, source: MediaInput | None) -> None:
    if as_json:
        print(json.dumps(report, indent=2))
        return
    from rich.table import Table  # rich only for the human-readable report: keep start-up lean

    out = stdout_console()
    if "tracks" in report:
        kind = "fragmented" if report["fragmented"] else "non-fragmented"
        out.print(
            f"{', '.join(report['inputs'])}: {report['size']} bytes, {kind}"
            + (f", {report['fragments']} fragments" if report["fragmented"] else ""),
            highlight=False,
        )
        for t in report["tracks"]:
            table = Table(show_header=False, box=None, pad_edge=False, title_justify="left",
                          title=f"track {t['id']} ({t['handler']}, {t['codec']})")  # fmt: skip
            table.add_column(style="bold")
            table.add_column()
            rows = [
                ("sample entries", ", ".join(t["sample_entries"])),
                ("scheme", t["scheme"] or "clear"),
                ("default KID", t["default_kid"] or "-"),
                ("IV size", "-" if t["iv_size"] is None else str(t["iv_size"])),
                ("constant IV", t["constant_iv"] or "-"),
                ("pattern", t["pattern"] or "-"),
                ("samples", f"{t['samples']} ({t['protected_samples']} protected)"),
                ("key ids", ", ".join(t["key_ids"]) or "-"),
            ]
            for name, value in rows:
                table.add_row(name, value)
            out.print(table)
    if "key_ids" in report and report.get("type") == "keyids":
        out.print("keyids init data: " + ", ".join(report["key_ids"]), highlight=False)
    bare = report.get("type") == "playready-object"
    for i, box in enumerate(report.get("pssh", [])):
        label = "PlayReady object (no pssh box)" if bare else f"pssh #{i} v{box['version']}"
        out.print(
            f"[bold]{label}[/bold] {box['system']} ({box['system_id']}), "
            f"{box['data_size']} data bytes"
            + (f", key ids {', '.join(box['key_ids'])}" if box["key_ids"] else ""),
            highlight=False,
        )
        if box["decoded"] is not None:
            out.print_json(data=box["decoded"])
        elif box["data"]:
            out.print(f"  data (raw, base64): {box['data']}", highlight=False)


def plugin_describer(settings: Settings) -> Describer | None:
    """Return the plugins' ``drm_describe_init_data`` hook as a :data:`Describer`, if available.

    Describing is harmless, so every installed plugin that ``plugins.disabled`` does not block
    describes, whatever ``plugins.enabled`` says (the container's ``installed_plugin_manager``;
    it opens no HAL and imports no web stack). When the plugins cannot be loaded, inspection
    still works and shows system-specific data raw.
    """
    try:
        manager = open_container(settings).installed_plugin_manager()
    except Exception:  # a plugin that is not installed or fails to import: describe raw
        return None
    describe: Describer = manager.describe_init_data
    return describe
