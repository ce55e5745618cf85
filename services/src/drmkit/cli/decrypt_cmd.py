"""``drmkit decrypt``: decrypt CENC-protected MP4 through a ClearKey session into a clear MP4."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from drmkit.cli import app, stderr_console, stdout_console
from drmkit.errors import DrmError
from drmkit.media import MediaError, MediaFormatError
from drmkit.media.decrypt import (
    DEFAULT_SESSIONS,
    MAX_SESSIONS,
    DecryptSummary,
    ProgressCallback,
    decrypt_to_file,
)
from drmkit.media.source import InputSpan, MediaInput

if TYPE_CHECKING:
    from drmkit.core import MediaKeysFactory

#: Inputs above this size show a progress bar (unless ``--json``).
PROGRESS_THRESHOLD = 16 * 1024 * 1024


def _fail(message: str, code: int = 1) -> NoReturn:
    stderr_console().print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def parse_key_bytes(text: str, what: str) -> bytes:
    """Parse 16 bytes given as 32 hex digits, a UUID, or base64url (padding optional)."""
    compact = text.strip().replace("-", "") if len(text.strip()) == 36 else text.strip()
    if re.fullmatch(r"[0-9a-fA-F]{32}", compact):
        return bytes.fromhex(compact)
    try:
        raw = base64.urlsafe_b64decode(compact + "=" * (-len(compact) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16 or not compact.isascii():
        raise ValueError(f"{what} {text!r} is neither 32 hex digits nor base64url of 16 bytes")
    return raw


def parse_key_option(text: str) -> tuple[bytes, bytes]:
    """Parse ``KID:KEY`` (each 32 hex digits, a UUID, or base64url of 16 bytes)."""
    kid, sep, key = text.partition(":")
    if not sep:
        raise ValueError(f"--key {text!r} is not KID:KEY")
    return parse_key_bytes(kid, "key id"), parse_key_bytes(key, "key")


@app.command("decrypt")
def decrypt(
    inputs: Annotated[
        list[Path], typer.Argument(help="MP4 file, or an init segment followed by media segments.")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the clear MP4.")],
    key: Annotated[
        list[str],
        typer.Option("--key", help="KID:KEY (hex, UUID or base64url); repeat for several keys."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    sessions: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAX_SESSIONS,
            help="Key sessions to share the samples over (each holds the keys).",
        ),
    ] = DEFAULT_SESSIONS,
) -> None:
    """Decrypt every protected sample through a ClearKey session and write a clear MP4."""
    keys: dict[bytes, bytes] = {}
    for text in key:
        try:
            kid, value = parse_key_option(text)
        except ValueError as exc:
            _fail(str(exc), code=2)
        keys[kid] = value
    if output.resolve() in {p.resolve() for p in inputs}:
        _fail("the output must not be one of the inputs", code=2)
    if not output.parent.is_dir():
        _fail(f"cannot write {output}: {output.parent} is not a directory", code=2)
    show_progress = not as_json and sum(p.stat().st_size for p in inputs if p.is_file()) > (
        PROGRESS_THRESHOLD
    )
    try:
        summary = asyncio.run(_run(inputs, output, keys, show_progress, sessions))
    except MediaFormatError as exc:
        _fail(_locate(exc, inputs))
    except (MediaError, DrmError) as exc:
        _fail(str(exc))
    except OSError as exc:  # e.g. OUTPUT is a directory, or the disk is full
        _fail(f"cannot write {output}: {exc.strerror or exc}")
    if as_json:
        print(json.dumps(summary.as_dict(), indent=2))
        return
    stdout_console().print(
        f"wrote {summary.output}: {summary.output_bytes} bytes, {summary.protected_samples} of "
        f"{summary.samples} samples decrypted in {len(summary.tracks)} track(s), "
        f"{summary.seconds:.2f} s",
        highlight=False,
    )


def _locate(error: MediaFormatError, inputs: list[Path]) -> str:
    """Name the input file and the offset inside it."""
    spans, pos = [], 0
    for path in inputs:
        size = path.stat().st_size
        spans.append(InputSpan(path, pos, pos + size))
        pos += size
    return MediaInput(bytearray(), spans).describe(error)


async def _run(
    inputs: list[Path],
    output: Path,
    keys: dict[bytes, bytes],
    show_progress: bool,
    sessions: int,
) -> DecryptSummary:
    from drmkit.cli.license_server_cmd import load_cli_settings
    from drmkit.core.wiring import open_core

    settings = load_cli_settings()
    with contextlib.ExitStack() as cleanup:
        if "state_dir" not in settings.model_fields_set:
            # Temporary sessions persist nothing: leave no CDM store behind unless configured.
            temp = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="drmkit-decrypt-"))
            settings = settings.model_copy(update={"state_dir": Path(temp)})
        # The core alone, not the whole container: importing dependency_injector pulls in
        # FastAPI, Starlette and Werkzeug (its wiring probes for them), which this command
        # never uses; that import alone cost more than decrypting a 50 MB file.
        factory = cleanup.enter_context(open_core(settings))
        return await _decrypt_with(factory, inputs, output, keys, show_progress, sessions)


async def _decrypt_with(
    factory: MediaKeysFactory,
    inputs: list[Path],
    output: Path,
    keys: dict[bytes, bytes],
    show_progress: bool,
    sessions: int,
) -> DecryptSummary:
    if not show_progress:
        return await decrypt_to_file(factory, inputs, output, keys, sessions=sessions)
    from rich.progress import (  # only long inputs show progress: keep start-up lean
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=stderr_console(),
        transient=True,
    ) as bar:

        def start(total: int) -> ProgressCallback:
            task = bar.add_task("decrypting", total=total)
            return lambda done: bar.advance(task, done)

        return await decrypt_to_file(factory, inputs, output, keys, start, sessions)
