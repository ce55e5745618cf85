"""``drmkit serve``: run the session server of one application (the MKS API over IPC).

``python -m drmkit.cli.serve_cmd [options]`` is ``drmkit serve [options]`` with only this command
loaded, so the server starts without importing every other command (test fixtures use it).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from drmkit.cli import app
from drmkit.cli.common import EXIT_FAILURE, fail, load_settings, open_container, with_section


@app.command("serve")
def serve(
    socket_path: Annotated[
        Path | None,
        typer.Option("--socket", help="Client socket path [default: server.socket_path]."),
    ] = None,
    control_socket: Annotated[
        Path | None,
        typer.Option(help="Control socket path [default: <socket>.control]."),
    ] = None,
    state: Annotated[
        str | None,
        typer.Option(help="Initial app state: active or inactive [default: server.initial_state]."),
    ] = None,
    metrics: Annotated[
        str | None,
        typer.Option(help="Metrics endpoint: 127.0.0.1:PORT or unix:PATH [default: off]."),
    ] = None,
    test_control: Annotated[
        bool,
        typer.Option(
            "--test-control",
            help="Expose the reference CDM test control (tests only).",
            hidden=True,
        ),
    ] = False,
) -> None:
    """Serve the media-key-session API of one application on a Unix socket (JSON-RPC 2.0)."""
    from drmkit.errors import ConfigurationError
    from drmkit.logging import configure
    from drmkit.server.runner import serve_until_signalled
    from drmkit.server.sockets import SocketInUseError
    from drmkit_hal import HalError

    settings = with_section(
        load_settings(),
        "server",
        socket_path=socket_path,
        control_socket_path=control_socket,
        initial_state=state,
        metrics_address=metrics,
        test_control=test_control or None,
    )
    configure(settings)
    container = open_container(settings)
    try:
        asyncio.run(serve_until_signalled(container.session_server()))
    except ConfigurationError as exc:  # e.g. plugins.enabled names what is not installed
        fail(str(exc))
    except HalError as exc:
        fail(f"cannot open the CDM: {exc}", code=EXIT_FAILURE)
    except SocketInUseError as exc:
        fail(str(exc), code=EXIT_FAILURE)
    except OSError as exc:
        fail(f"cannot serve: {exc}", code=EXIT_FAILURE)
    finally:
        container.shutdown_resources()


if (
    __name__ == "__main__"
):  # ``python -m drmkit.cli.serve_cmd``: the server without the other commands
    runner = typer.Typer(add_completion=False, pretty_exceptions_show_locals=False)
    runner.command()(serve)
    runner(prog_name="drmkit serve")
