"""``SessionServer``: the session server of one application.

It listens on two Unix sockets: the client socket (the MKS API, one connection per client) and the
control socket (app state, stats, health; for the server manager). Both are created ``0600`` by
default. The server starts Active or Inactive as configured; Inactive frees every CDM resource and
every connection's shared memory, refuses new MediaKeys and tells every client.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import resource
import socket
from typing import TYPE_CHECKING, Any

import structlog
from drmkit.ipc.dispatcher import Dispatcher
from drmkit.server.connection import ClientConnection, ConnectionState, Role
from drmkit.server.methods import (
    CLIENT_METHODS,
    CONTROL_METHODS,
    key_system_info,
    open_fd_count,
)
from drmkit.server.metrics import ServerMetrics, start_metrics_endpoint
from drmkit.server.sockets import bind_unix_socket, remove_socket_file

if TYPE_CHECKING:
    from drmkit.core.factory import MediaKeysFactory
    from drmkit.server.config import ServerSettings
    from drmkit_hal import Hal
    from prometheus_client import CollectorRegistry

log = structlog.get_logger(__name__)

_SHUTDOWN_GRACE_S = 5.0


class SessionServer:
    """Serves the MKS API of one application over its client socket."""

    def __init__(
        self,
        config: ServerSettings,
        factory: MediaKeysFactory,
        hal: Hal,
        registry: CollectorRegistry,
    ) -> None:
        self.config = config
        self.factory = factory
        self.hal = hal
        self.metrics = ServerMetrics(registry)
        self.metrics.key_sessions.set_function(lambda: factory.open_sessions)
        self.metrics.media_keys.set_function(lambda: len(factory.media_keys))
        self.metrics.active.set_function(lambda: 1 if factory.active else 0)
        self.socket_path = self.config.resolved_socket_path()
        self.control_path = self.config.resolved_control_path()
        self.connections: dict[int, ClientConnection] = {}
        self._ids = itertools.count(1)
        self._dispatchers = (Dispatcher(CLIENT_METHODS), Dispatcher(CONTROL_METHODS))
        self._listeners: list[tuple[socket.socket, asyncio.Task[None]]] = []
        self._connection_tasks: set[asyncio.Task[None]] = set()
        self._state_lock = asyncio.Lock()
        self._metrics_server: asyncio.Server | None = None

    @property
    def state(self) -> str:
        """``"active"`` or ``"inactive"``."""
        return "active" if self.factory.active else "inactive"

    # -- lifetime ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Apply the initial app state and start listening (``SocketInUseError`` if taken)."""
        await self.factory.set_active(self.config.initial_state == "active")
        client_dispatcher, control_dispatcher = self._dispatchers
        client_sock = bind_unix_socket(self.socket_path, self.config.socket_mode)
        try:
            control_sock = bind_unix_socket(self.control_path, self.config.socket_mode)
        except BaseException:
            client_sock.close()
            remove_socket_file(self.socket_path)
            raise
        loop = asyncio.get_running_loop()
        for sock, role, dispatcher in (
            (client_sock, "client", client_dispatcher),
            (control_sock, "control", control_dispatcher),
        ):
            task = loop.create_task(self._accept_loop(sock, role, dispatcher))  # type: ignore[arg-type]
            self._listeners.append((sock, task))
        if self.config.metrics_address:
            self._metrics_server = await start_metrics_endpoint(
                self.metrics.registry, self.config.metrics_address
            )
        log.info(
            "session server listening",
            socket=str(self.socket_path),
            control_socket=str(self.control_path),
            state=self.state,
            metrics=self.config.metrics_address or None,
        )

    async def shutdown(self) -> None:
        """Stop accepting, drop every connection (freeing what it owned), remove the sockets."""
        for sock, task in self._listeners:
            task.cancel()
            sock.close()
        self._listeners.clear()
        remove_socket_file(self.socket_path)
        remove_socket_file(self.control_path)
        if self._metrics_server is not None:
            self._metrics_server.close()
        for connection in list(self.connections.values()):
            connection.abort()
        if self._connection_tasks:
            await asyncio.wait(list(self._connection_tasks), timeout=_SHUTDOWN_GRACE_S)
        await self.factory.destroy_all()
        log.info("session server stopped")

    async def _accept_loop(
        self, sock: socket.socket, role: Role, dispatcher: Dispatcher[ConnectionState]
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(sock)
            except OSError as exc:  # e.g. EMFILE: keep serving the connections we have
                log.warning("accept failed", error=str(exc))
                await asyncio.sleep(0.1)
                continue
            if role == "client" and self._client_count() >= self.config.max_connections:
                log.warning("refusing a connection: server.max_connections reached")
                conn.close()
                continue
            connection = ClientConnection(self, conn, next(self._ids), role, dispatcher)
            self.connections[connection.id] = connection
            self.metrics.connections.labels(role).inc()
            task = loop.create_task(connection.run())
            self._connection_tasks.add(task)
            task.add_done_callback(self._connection_tasks.discard)

    def _client_count(self) -> int:
        return sum(1 for c in self.connections.values() if c.role == "client")

    def connection_closed(self, connection: ClientConnection) -> None:
        """Forget a connection (called once, from its cleanup)."""
        if self.connections.pop(connection.id, None) is not None:
            self.metrics.connections.labels(connection.role).dec()

    # -- app state ---------------------------------------------------------------------------

    async def set_state(self, active: bool) -> None:
        """Switch Active/Inactive and tell every client (``app_state`` notification)."""
        async with self._state_lock:
            await self.factory.set_active(active)
            clients = [c for c in self.connections.values() if c.role == "client"]
            if not active:
                for connection in clients:
                    connection.forget_all()
                await asyncio.gather(*(c.release_region() for c in clients))
            key_systems = {}
            if active:
                key_systems = key_system_info(self.factory)
            for connection in clients:
                connection.notify("app_state", {"state": self.state, "key_systems": key_systems})
            log.info("application state changed", state=self.state)

    # -- introspection -----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters for leak checks: connections, MediaKeys, sessions, memory, descriptors."""
        usage = resource.getrusage(resource.RUSAGE_SELF)
        result: dict[str, Any] = {
            "state": self.state,
            "pid": os.getpid(),
            "connections": self._client_count(),
            "media_keys": len(self.factory.media_keys),
            "key_sessions": self.factory.open_sessions,
            "shared_memory_regions": sum(
                1 for c in self.connections.values() if c.region is not None
            ),
            "open_fds": open_fd_count(),
            "rss_bytes": _rss_bytes(),
            "max_rss_bytes": usage.ru_maxrss * 1024,
        }
        if self.hal.is_reference:
            with contextlib.suppress(Exception):
                result["cdm"] = self.hal.test_control({"op": "stats"})
        return result


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
