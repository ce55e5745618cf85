"""One connection of the session server: its handles, references, memory and requests.

Everything a connection creates (MediaKeys, key sessions, decrypt references, shared memory) is
recorded here and only reachable through this connection; a handle of another connection is
answered exactly like an unknown one. When the connection ends, for whatever reason, all of it is
destroyed and freed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import structlog
from drmkit.core.media_keys import MediaKeys
from drmkit.core.session import KeySession
from drmkit.errors import BadSessionIdError, InvalidStateError
from drmkit.ipc.dispatcher import Dispatcher
from drmkit.ipc.framing import FrameError, FrameTooLargeError
from drmkit.ipc.jsonrpc import (
    INTERNAL_ERROR,
    PARSE_ERROR,
    Request,
    RpcError,
    encode_error,
    encode_notification,
    encode_result,
    parse_request,
)
from drmkit.ipc.shm import SharedRegion
from drmkit.ipc.transport import FramedSocket
from drmkit.server.references import DecryptReferences

if TYPE_CHECKING:
    from drmkit.server.app import SessionServer

log = structlog.get_logger(__name__)

Role = Literal["client", "control"]

_REGION_CLOSE_RETRY_S = 0.05


@dataclass(frozen=True, slots=True)
class WithFds:
    """A handler result sent together with file descriptors (``SCM_RIGHTS``)."""

    result: Any
    fds: tuple[int, ...]


class ConnectionState:
    """What one connection owns and may reach: MediaKeys handles, sessions, references, memory.

    It has no socket: the RPC handlers of :mod:`drmkit.server.methods` work on this, so they
    can be called (and unit-tested) without one. Notifications go to ``notify_sink``;
    :class:`ClientConnection` (the socket and its request loop) writes them to its client.
    """

    def __init__(
        self,
        server: SessionServer,
        connection_id: int,
        role: Role,
        notify_sink: Callable[[str, dict[str, Any]], None],
    ) -> None:
        self.server = server
        self.id = connection_id
        self.role = role
        self._notify_sink = notify_sink
        self.media_keys: dict[int, MediaKeys] = {}
        self.references = DecryptReferences()
        self.region: SharedRegion | None = None
        self.closed = False

    # -- handles -----------------------------------------------------------------------------

    def get_media_keys(self, handle: int) -> MediaKeys:
        """Return this connection's MediaKeys ``handle`` (unknown and foreign look the same)."""
        media_keys = self.media_keys.get(handle)
        if media_keys is None or media_keys.destroyed:
            raise BadSessionIdError(f"no MediaKeys with handle {handle!r}")
        return media_keys

    def find_session(self, handle: int, session_id: int) -> KeySession:
        """Return a session of this connection (also one released while references are held)."""
        self.get_media_keys(handle)
        return self.references.find(handle, session_id)

    def session_created(self, media_keys: MediaKeys, session: KeySession) -> None:
        """Record a new session; the client hears when the CDM closed it (``session_closed``)."""
        handle = media_keys.handle
        self.references.add(handle, session)

        def closed(_: object) -> None:
            if not self.closed:
                self.notify(
                    "session_closed", {"media_keys_handle": handle, "key_session_id": session.id}
                )

        session.closed.add_done_callback(closed)

    def require_region(self) -> SharedRegion:
        """Return the connection's shared memory (``InvalidStateError`` if it has none)."""
        if self.region is None or self.region.closed:
            raise InvalidStateError("no shared memory: call get_shared_memory first")
        return self.region

    def notify(self, method: str, params: dict[str, Any]) -> None:
        """Send a notification to this connection's client."""
        self._notify_sink(method, params)

    # -- teardown ----------------------------------------------------------------------------

    def forget_all(self) -> None:
        """Drop every handle (the server destroyed them, e.g. on Inactive)."""
        self.media_keys.clear()
        self.references.clear()

    async def destroy_media_keys(self) -> None:
        """Destroy every MediaKeys this connection owns (their sessions first)."""
        owned = list(self.media_keys.values())
        self.forget_all()
        await asyncio.gather(*(mk.destroy() for mk in owned), return_exceptions=True)

    async def release_region(self) -> None:
        """Unmap the shared memory once no decrypt uses it any more."""
        region, self.region = self.region, None
        if region is None:
            return
        self.server.metrics.shm_regions.dec()
        while not region.try_close():
            await asyncio.sleep(_REGION_CLOSE_RETRY_S)


class ClientConnection(ConnectionState):
    """An accepted connection (client or control socket): its socket and request loop."""

    def __init__(
        self,
        server: SessionServer,
        sock: socket.socket,
        connection_id: int,
        role: Role,
        dispatcher: Dispatcher[ConnectionState],
    ) -> None:
        super().__init__(server, connection_id, role, self._send_notification)
        config = server.config
        self._dispatcher = dispatcher
        self._socket = FramedSocket(sock, max_frame=config.max_frame_size)
        self._in_flight = asyncio.Semaphore(config.max_in_flight)
        self._max_write_buffer = max(4 * config.max_frame_size, 4 * 1024 * 1024)
        self._tasks: set[asyncio.Task[None]] = set()
        try:
            self.peer_pid, self.peer_uid, _ = self._socket.peer_credentials()
        except OSError:
            self.peer_pid, self.peer_uid = -1, -1

    # -- sending -----------------------------------------------------------------------------

    def send(self, payload: bytes, fds: tuple[int, ...] = ()) -> bool:
        """Queue a frame; drops the connection if the peer stopped reading (slow consumer)."""
        if self.closed:
            return False
        if self._socket.write_buffer_size > self._max_write_buffer:
            log.warning("dropping a connection that does not read its replies", connection=self.id)
            self.abort()
            return False
        try:
            return self._socket.write_frame(payload, fds)
        except FrameTooLargeError as exc:
            log.error("reply larger than the frame limit", error=str(exc))
            return False

    def _send_notification(self, method: str, params: dict[str, Any]) -> None:
        if self.send(encode_notification(method, params)):
            self.server.metrics.notifications.labels(method).inc()

    def abort(self) -> None:
        """Close the socket now; the request loop then cleans up."""
        self._socket.close()

    # -- the request loop --------------------------------------------------------------------

    async def run(self) -> None:
        """Serve requests until the peer goes away, then release everything the client owned."""
        structlog.contextvars.bind_contextvars(connection_id=self.id, role=self.role)
        log.info("client connected", pid=self.peer_pid, uid=self.peer_uid)
        try:
            await self._read_loop()
        except Exception:
            log.exception("connection failed")
        finally:
            await self.cleanup()
            log.info("client disconnected")

    async def _read_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._in_flight.acquire()
            try:
                payload = await self._socket.read_frame()
            except FrameError as exc:
                self._in_flight.release()
                self.server.metrics.protocol_errors.labels("frame").inc()
                log.warning("dropping a connection that sent a bad frame", error=str(exc))
                self.send(encode_error(None, RpcError(PARSE_ERROR, f"bad frame: {exc}")))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._socket.drain(), 1.0)
                return
            if payload is None:
                self._in_flight.release()
                return
            try:
                request = parse_request(payload)
            except RpcError as exc:
                self._in_flight.release()
                self.server.metrics.protocol_errors.labels("envelope").inc()
                data = exc.data if isinstance(exc.data, dict) else None
                reply_id = data.get("id") if data is not None else None
                self.send(encode_error(reply_id, RpcError(exc.code, exc.message)))
                continue
            # One task per request, created in arrival order: a task runs up to its first real
            # suspension (where the core queues the CDM call) before the next starts, so calls
            # of one session reach the CDM in the order the client sent them.
            task = loop.create_task(self._handle(request))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _handle(self, request: Request) -> None:
        metrics = self.server.metrics
        started = time.perf_counter()
        outcome = "ok"
        try:
            method, params = self._dispatcher.validate(request)
            result = await self._dispatcher.call(self, method, params)
        except RpcError as exc:
            outcome = "error"
            if not request.is_notification:
                self.send(encode_error(request.id, exc))
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except Exception as exc:  # a bug: answer, log, keep serving
            outcome = "error"
            log.exception("unexpected failure", method=request.method)
            if not request.is_notification:
                self.send(encode_error(request.id, RpcError(INTERNAL_ERROR, repr(exc))))
        else:
            if not request.is_notification:
                if isinstance(result, WithFds):
                    self.send(encode_result(request.id, result.result), result.fds)
                else:
                    self.send(encode_result(request.id, result))
        finally:
            self._in_flight.release()
            name = request.method if self._dispatcher.has(request.method) else "unknown"
            metrics.observe_request(name, outcome, time.perf_counter() - started)

    # -- cleanup -----------------------------------------------------------------------------

    async def cleanup(self) -> None:
        """Close the socket and free everything the connection owned."""
        if self.closed:
            return
        self.closed = True
        self._socket.close()
        try:
            await self.destroy_media_keys()
            if self._tasks:
                # Calls still running in the CDM finish (bounded by the core's operation
                # timeout); their replies go nowhere. Shared memory stays mapped until then.
                timeout = self.server.factory.operation_timeout + 1.0
                await asyncio.wait(list(self._tasks), timeout=timeout)
            await self.release_region()
        finally:
            # Counted as a connection until everything it owned is freed (idle means idle).
            self.server.connection_closed(self)
