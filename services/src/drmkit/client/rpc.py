"""The client end of one JSON-RPC connection: calls with timeouts, notifications, fds.

A reply whose result is an object with ``"fds": N`` arrived with N descriptors (``SCM_RIGHTS``);
the member is replaced by the list of received descriptors, which the caller then owns.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drmkit.client.errors import ProtocolError, ServerUnavailableError
from drmkit.errors import OperationTimeoutError
from drmkit.ipc.codec import exception_from_rpc_error
from drmkit.ipc.framing import DEFAULT_MAX_FRAME, FrameError
from drmkit.ipc.jsonrpc import (
    Request,
    Response,
    RpcError,
    encode_notification,
    encode_request,
    parse_incoming,
)
from drmkit.ipc.transport import FramedSocket

log = logging.getLogger(__name__)

NotificationHandler = Callable[[str, dict[str, Any]], None]


class RpcClient:
    """One connection to a session server socket (client or control)."""

    def __init__(
        self,
        framed: FramedSocket,
        *,
        timeout: float,
        on_notification: NotificationHandler | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._socket = framed
        self.timeout = timeout
        self._on_notification = on_notification
        self._on_close = on_close
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._closed = False
        self._reader = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    async def connect(
        cls,
        path: str | Path,
        *,
        timeout: float = 3.0,
        max_frame: int = DEFAULT_MAX_FRAME,
        on_notification: NotificationHandler | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> RpcClient:
        """Connect to ``path`` (``ServerUnavailableError`` if nobody listens there)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(
                asyncio.get_running_loop().sock_connect(sock, str(path)), timeout
            )
        except (OSError, TimeoutError) as exc:
            sock.close()
            raise ServerUnavailableError(
                f"cannot connect to the session server at {path}: {exc}"
            ) from None
        framed = FramedSocket(sock, max_frame=max_frame)
        return cls(framed, timeout=timeout, on_notification=on_notification, on_close=on_close)

    @property
    def closed(self) -> bool:
        """``True`` once the connection is gone (closed by us or by the server)."""
        return self._closed

    async def call(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """Call ``method`` and return its result; raise the typed error of a failure.

        MKS errors raise the same exception classes as in-process code; a missing reply within
        the timeout raises ``OperationTimeoutError``; a broken connection
        ``ServerUnavailableError``; other JSON-RPC errors ``ProtocolError``.
        """
        if self._closed:
            raise ServerUnavailableError("the connection to the session server is closed")
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            if not self._socket.write_frame(encode_request(request_id, method, params or {})):
                raise ServerUnavailableError("the connection to the session server is closed")
            limit = self.timeout if timeout is None else timeout
            try:
                return await asyncio.wait_for(future, limit)
            except TimeoutError:
                raise OperationTimeoutError(f"{method}: no reply within {limit} s") from None
        finally:
            self._pending.pop(request_id, None)

    def notify(self, method: str, params: dict[str, Any]) -> None:
        """Send a notification (no reply); ``ServerUnavailableError`` if closed."""
        if self._closed or not self._socket.write_frame(encode_notification(method, params)):
            raise ServerUnavailableError("the connection to the session server is closed")

    async def close(self) -> None:
        """Close the connection; pending calls fail with ``ServerUnavailableError``."""
        self._socket.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    async def _read_loop(self) -> None:
        reason = "the session server closed the connection"
        try:
            while True:
                payload = await self._socket.read_frame()
                if payload is None:
                    if self._socket.error is not None:
                        reason = f"connection to the session server failed: {self._socket.error}"
                    break
                self._dispatch(payload)
        except FrameError as exc:
            reason = f"the session server sent a bad frame: {exc}"
        except Exception as exc:  # never leave callers hanging
            log.exception("client read loop failed")
            reason = f"client read loop failed: {exc!r}"
        finally:
            self._closed = True
            self._socket.close()
            pending, self._pending = self._pending, {}
            for future in pending.values():
                if not future.done():
                    future.set_exception(ServerUnavailableError(reason))
            if self._on_close is not None:
                self._on_close()

    def _dispatch(self, payload: bytes) -> None:
        try:
            message = parse_incoming(payload)
        except RpcError as exc:
            log.warning("ignoring a malformed message from the server: %s", exc.message)
            return
        if isinstance(message, Request):
            if self._on_notification is not None:
                try:
                    self._on_notification(message.method, message.params)
                except Exception:
                    log.exception("notification handler failed for %s", message.method)
            return
        self._resolve(message)

    def _resolve(self, response: Response) -> None:
        result = response.result
        fds: list[int] = []
        if isinstance(result, dict) and isinstance(result.get("fds"), int):
            fds = self._socket.take_fds(result["fds"])
            result = {**result, "fds": fds}
        future = self._pending.get(response.id) if isinstance(response.id, int) else None
        if future is None or future.done():
            for fd in fds:  # nobody waits any more (timed out): do not leak them
                os.close(fd)
            return
        if response.error is not None:
            error = exception_from_rpc_error(response.error)
            future.set_exception(
                error
                if error is not None
                else ProtocolError(response.error.message, response.error.code)
            )
        else:
            future.set_result(result)
