"""``drmkit cdm``: the CDM profile of the configured OCDM library, and probes that verify it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from drmkit.cli import app, stderr_console, stdout_console

if TYPE_CHECKING:
    from drmkit_hal import HalConfig

cdm_app = typer.Typer(
    name="cdm",
    help=(
        "The CDM profile of the configured OCDM library (what each CDM supports and gets wrong)"
        " and known-answer probes that check it."
    ),
    no_args_is_help=True,
)
app.add_typer(cdm_app)


def _config() -> HalConfig:
    from drmkit.core.wiring import hal_config
    from drmkit.settings import load_settings

    config = hal_config(load_settings())
    # Listing and probing persist nothing: no store directory.
    import dataclasses

    return dataclasses.replace(config, store_dir=None)


def _fail(message: str) -> typer.Exit:
    stderr_console().print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code=1)


@cdm_app.command("profile")
def profile_command(
    key_system: Annotated[
        str | None, typer.Argument(help="Show the CDM of this key system only.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Show the profile of the configured library and of the CDMs behind it."""
    from drmkit_hal import HalError, library_profile

    try:
        library = library_profile(_config())
    except HalError as exc:
        raise _fail(str(exc)) from exc
    cdms = [library.cdm(key_system)] if key_system else [*library.cdms, library.default]
    if as_json:
        document = {
            "profile": library.name,
            "description": library.description,
            "source": library.source,
            "cdms": [cdm.as_dict() for cdm in cdms],
        }
        typer.echo(json.dumps(document, indent=2))
        return
    console = stdout_console()
    console.print(f"[bold]{library.name}[/bold]: {library.description} ({library.source})")
    for cdm in cdms:
        facts = cdm.as_dict()
        console.print(f"\n[bold]{cdm.name}[/bold]: {cdm.description}", highlight=False)
        for name, value in facts.items():
            if name in ("name", "description", "library", "notes") or value in (None, [], ()):
                continue
            console.print(f"  {name}: {value}", highlight=False)
        for note in cdm.notes:
            console.print(f"  - {note}", highlight=False)


@cdm_app.command("probe")
def probe_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Measure what the library's Clear Key CDM does right; compare with its profile.

    Exits 1 when the profile says otherwise than the probes found.
    """
    from drmkit.testing.probe import CLEARKEY, probe_clearkey
    from drmkit_hal import HalError, library_profile

    config = _config()
    try:
        report = probe_clearkey(config)
        profile = library_profile(config).cdm(CLEARKEY)
    except HalError as exc:
        raise _fail(str(exc)) from exc
    disagreements = report.disagreements(profile)
    if as_json:
        typer.echo(
            json.dumps({"report": report.as_dict(), "disagreements": disagreements}, indent=2)
        )
    else:
        console = stdout_console()
        console.print(f"probed {report.library} (profile {report.cdm_profile})", highlight=False)
        for name, value in report.as_dict().items():
            if name not in ("library", "profile", "cdm_profile"):
                console.print(f"  {name}: {value}", highlight=False)
        for line in disagreements:
            console.print(f"[red]profile disagrees[/red]: {line}", highlight=False)
        if not disagreements:
            console.print("the profile agrees with every probe")
    if disagreements:
        raise typer.Exit(code=1)
