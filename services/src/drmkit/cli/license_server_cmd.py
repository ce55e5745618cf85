"""``drmkit license-server``: serve Clear Key and the plugins' test licenses over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from drmkit.cli import app, stderr_console

if TYPE_CHECKING:
    from drmkit.settings import Settings


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``message`` as an error on standard error and exit with ``code``."""
    from rich.markup import escape

    stderr_console().print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def load_cli_settings(**overrides: Any) -> Settings:
    """Load settings for a command, turning configuration mistakes into a clear exit (code 2)."""
    from drmkit.settings import load_settings
    from pydantic import ValidationError

    try:
        return load_settings(**overrides)
    except FileNotFoundError as exc:
        fail(str(exc))
    except ValidationError as exc:
        fail(f"invalid configuration:\n{exc}")


@app.command("license-server")
def license_server(
    host: Annotated[
        str | None, typer.Option(help="Listen address [default: license_server.host].")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="TCP port [default: license_server.port]."),
    ] = None,
) -> None:
    """Run the license server (Clear Key, and the installed plugins' test-license endpoints)."""
    from drmkit.container import build_container
    from drmkit.errors import ConfigurationError
    from drmkit.license_server import KeyStoreError, serve_forever
    from drmkit.logging import configure, get_logger

    settings = load_cli_settings()
    section = settings.license_server.model_copy(
        update={k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    )
    settings = settings.model_copy(update={"license_server": section})
    configure(settings)
    container = build_container(settings)
    try:
        application = container.license_server_app()
    except (KeyStoreError, ConfigurationError) as exc:  # ConfigurationError: a plugin's endpoints
        fail(str(exc))
    log = get_logger(__name__)
    log.info(
        "starting license server",
        host=section.host,
        port=section.port,
        key_store=str(application.state.store.path),
        auth=application.state.auth_enabled,
    )
    try:
        serve_forever(application, section.host, section.port)
    except OSError as exc:
        fail(f"cannot listen on {section.host}:{section.port}: {exc}")
