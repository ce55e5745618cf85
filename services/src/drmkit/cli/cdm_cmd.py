"""``drmkit cdm``: the CDM profile of the configured OCDM library, and probes that verify it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from drmkit.cli import app, stdout_console
from drmkit.cli.common import EXIT_FAILURE, fail, load_settings, open_container

if TYPE_CHECKING:
    from drmkit.container import Container

cdm_app = typer.Typer(
    name="cdm",
    help=(
        "The CDM profile of the configured OCDM library (what each CDM supports and gets wrong)"
        " and known-answer probes that check it."
    ),
    no_args_is_help=True,
)
app.add_typer(cdm_app)


def _container() -> Container:
    return open_container(load_settings())


@cdm_app.command("profile")
def profile_command(
    key_system: Annotated[
        str | None, typer.Argument(help="Show the CDM of this key system only.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Show the profile of the configured library and of the CDMs behind it."""
    from drmkit_hal import HalError

    container = _container()
    try:
        library = container.cdm_library_profile()
    except HalError as exc:
        fail(str(exc), code=EXIT_FAILURE)
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
    from drmkit.testing.probe import CLEARKEY
    from drmkit_hal import HalError

    container = _container()
    try:
        report = container.cdm_probe_report()
        profile = container.cdm_library_profile().cdm(CLEARKEY)
    except HalError as exc:
        fail(str(exc), code=EXIT_FAILURE)
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
        raise typer.Exit(code=EXIT_FAILURE)
