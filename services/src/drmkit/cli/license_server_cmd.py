"""``drmkit license-server``: serve Clear Key and the plugins' test licenses over HTTP."""

from __future__ import annotations

from typing import Annotated

import typer
from drmkit.cli import app
from drmkit.cli.common import fail, load_settings, open_container, with_section


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
    from drmkit.errors import ConfigurationError
    from drmkit.license_server import KeyStoreError, serve_forever
    from drmkit.logging import configure, get_logger

    settings = with_section(load_settings(), "license_server", host=host, port=port)
    section = settings.license_server
    configure(settings)
    container = open_container(settings)
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
