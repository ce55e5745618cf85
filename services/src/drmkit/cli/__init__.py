"""The ``drmkit`` command line: one typer app; each command group lives in its own module."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(
    name="drmkit",
    help="drmkit: one media-key-session API over many DRM key systems.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def stdout_console() -> Console:
    """Return a rich console on standard output (rich is imported on first use, not at start-up)."""
    from rich.console import Console

    return Console()


def stderr_console() -> Console:
    """Return a rich console on standard error (rich is imported on first use)."""
    from rich.console import Console

    return Console(stderr=True)


def _register_commands() -> None:
    """Import the command modules; each adds its commands or sub-apps to ``app``."""
    # Imported here so that ``import drmkit.cli`` stays cheap and free of cycles.
    from drmkit.cli import commands  # noqa: F401


def main() -> None:
    """Entry point of the ``drmkit`` console script."""
    _register_commands()
    app()
