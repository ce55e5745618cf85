"""Running the license server: in the foreground (``drmkit license-server``) or in a thread.

The thread form serves ``drmkit demo`` and tests: it binds the socket itself before uvicorn
starts, so the port is known (and free) the moment :meth:`LicenseServerThread.start` returns.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType

import uvicorn
from starlette.applications import Starlette

logger = logging.getLogger(__name__)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio enables TCP_NODELAY only on sockets that say so, and
    # without it every response pays a ~40 ms Nagle / delayed-ACK stall.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _uvicorn_config(app: Starlette) -> uvicorn.Config:
    # log_config=None keeps uvicorn from replacing the logging set up by drmkit.logging.
    return uvicorn.Config(app, lifespan="off", log_config=None, access_log=False)


def serve_forever(app: Starlette, host: str, port: int) -> None:
    """Serve ``app`` on ``host:port`` until interrupted (SIGINT/SIGTERM)."""
    sock = _bind(host, port)
    server = uvicorn.Server(_uvicorn_config(app))
    bound_host, bound_port = sock.getsockname()[:2]
    logger.info("license server listening", extra={"url": _url(bound_host, bound_port)})
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class LicenseServerThread:
    """The license server on a background thread of this process; a context manager."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 0) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._error: BaseException | None = None
        self._bound_port: int | None = None

    @property
    def port(self) -> int:
        """The bound TCP port (known once started)."""
        if self._bound_port is None:
            raise RuntimeError("the license server is not started")
        return self._bound_port

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. ``http://127.0.0.1:43121``."""
        return _url(self._host, self.port)

    def start(self, timeout_s: float = 10.0) -> None:
        """Bind, start serving and return once uvicorn accepts connections."""
        self._sock = _bind(self._host, self._port)
        self._bound_port = int(self._sock.getsockname()[1])
        self._server = uvicorn.Server(_uvicorn_config(self._app))
        self._thread = threading.Thread(target=self._run, name="drmkit-license-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive():
                self._sock.close()
                raise RuntimeError(f"the license server failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the license server did not start within {timeout_s} s")
            time.sleep(0.005)

    def _run(self) -> None:
        assert self._server is not None and self._sock is not None
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # reported by start()/stop(), never lost silently
            self._error = exc
            logger.exception("license server thread failed")

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask uvicorn to exit, wait for the thread, and close the socket (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                raise TimeoutError(f"the license server did not stop within {timeout_s} s")
            self._thread = None
        if self._sock is not None:
            self._sock.close()

    def __enter__(self) -> LicenseServerThread:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
