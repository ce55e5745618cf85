"""A framed, fd-passing connection over a non-blocking Unix stream socket, driven by asyncio.

asyncio's stream transports read with ``recv`` and so silently drop ``SCM_RIGHTS`` ancillary data;
passing a shared-memory descriptor needs ``recvmsg``/``sendmsg``. This class reads with
``recvmsg`` from a reader callback and writes with ``sendmsg``, keeping received descriptors in
arrival order for the frame that claims them (:meth:`FramedSocket.take_fds`).

Reading is paused while more than ``high_water`` bytes are buffered and unread, so a client that
floods a server fills its own socket buffer instead of the server's memory.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import os
import socket
from collections import deque
from collections.abc import Sequence

from drmkit.ipc.framing import DEFAULT_MAX_FRAME, FrameDecoder, FrameError, encode_frame

MAX_FDS_PER_MESSAGE = 8
"""Most descriptors accepted with one ``recvmsg`` (more are closed and the connection dropped)."""

_READ_SIZE = 256 * 1024


class FramedSocket:
    """Frames over one connected Unix stream socket (must be created on the running loop)."""

    def __init__(
        self,
        sock: socket.socket,
        *,
        max_frame: int = DEFAULT_MAX_FRAME,
        high_water: int | None = None,
    ) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._fileno = sock.fileno()
        self._loop = asyncio.get_running_loop()
        self._decoder = FrameDecoder(max_frame)
        self._max_frame = max_frame
        self._high_water = high_water if high_water is not None else 2 * max_frame + 64
        self._fds: deque[int] = deque()
        self._eof = False
        self._error: BaseException | None = None
        self._reading = False
        self._read_waiter: asyncio.Future[None] | None = None
        self._out: deque[tuple[memoryview, Sequence[int]]] = deque()
        self._out_size = 0
        self._writing = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._closed = False
        self._resume_reading()

    # -- state -------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """``True`` once :meth:`close` ran or the peer went away while writing."""
        return self._closed

    @property
    def error(self) -> BaseException | None:
        """What broke the connection, when it was not a clean close by the peer."""
        return self._error

    @property
    def write_buffer_size(self) -> int:
        """Bytes queued for sending (the peer is not reading fast enough)."""
        return self._out_size

    def peer_credentials(self) -> tuple[int, int, int]:
        """Return the peer's ``(pid, uid, gid)`` (``SO_PEERCRED``)."""
        raw = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        values = array.array("i")
        values.frombytes(raw)
        return values[0], values[1], values[2]

    # -- reading -----------------------------------------------------------------------------

    async def read_frame(self) -> bytes | None:
        """Return the next payload, ``None`` once the peer closed the connection.

        Raises ``FrameError`` (incl. ``FrameTooLargeError``) when the stream cannot be framed:
        the caller should drop the connection.
        """
        while True:
            if self._closed:  # closed here (or the peer vanished while we wrote): stop
                return None
            frame = self._decoder.next_frame()
            if frame is not None:
                if (
                    not self._reading
                    and not self._eof
                    and self._decoder.buffered < self._high_water
                ):
                    self._resume_reading()
                return frame
            if self._eof or self._closed:
                if self._decoder.buffered and self._error is None:
                    raise FrameError(
                        f"connection closed inside a frame ({self._decoder.buffered} bytes)"
                    )
                return None
            if not self._reading:
                self._resume_reading()
            waiter = self._loop.create_future()
            self._read_waiter = waiter
            try:
                await waiter
            finally:
                self._read_waiter = None

    def take_fds(self, count: int) -> list[int]:
        """Claim ``count`` received descriptors, oldest first (``FrameError`` if missing)."""
        if count > len(self._fds):
            raise FrameError(f"expected {count} file descriptors, received {len(self._fds)}")
        return [self._fds.popleft() for _ in range(count)]

    def _resume_reading(self) -> None:
        if not self._reading and not self._closed:
            self._loop.add_reader(self._fileno, self._on_readable)
            self._reading = True

    def _pause_reading(self) -> None:
        if self._reading:
            self._loop.remove_reader(self._fileno)
            self._reading = False

    def _wake_reader(self) -> None:
        waiter = self._read_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _on_readable(self) -> None:
        try:
            data, ancdata, flags, _ = self._sock.recvmsg(
                _READ_SIZE, socket.CMSG_SPACE(MAX_FDS_PER_MESSAGE * 4)
            )
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._error = exc
            data, ancdata, flags = b"", [], 0
        for level, kind, cdata in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(cdata[: len(cdata) - len(cdata) % fds.itemsize])
                self._fds.extend(fds)
        if flags & socket.MSG_CTRUNC:  # too many descriptors: refuse the whole connection
            self._error = FrameError("too many file descriptors in one message")
            data = b""
        if not data:
            self._eof = True
            self._pause_reading()
        else:
            self._decoder.feed(data)
            if self._decoder.buffered >= self._high_water:
                self._pause_reading()
        self._wake_reader()

    # -- writing -----------------------------------------------------------------------------

    def write_frame(self, payload: bytes, fds: Sequence[int] = ()) -> bool:
        """Queue one frame (with ``fds`` attached); ``False`` if the connection is closed.

        Raises ``FrameTooLargeError`` for a payload over the frame limit.
        """
        data = encode_frame(payload, self._max_frame)
        if self._closed:
            return False
        view = memoryview(data)
        if not self._out:
            sent = self._send(view, fds)
            if sent < 0:
                return False
            if sent == len(data):
                return True
            if sent > 0:
                view, fds = view[sent:], ()
        self._out.append((view, fds))
        self._out_size += len(view)
        if not self._writing:
            self._loop.add_writer(self._fileno, self._on_writable)
            self._writing = True
        return True

    async def drain(self) -> None:
        """Wait until every queued frame was handed to the kernel (or the connection closed)."""
        if not self._out or self._closed:
            return
        waiter = self._loop.create_future()
        self._drain_waiters.append(waiter)
        await waiter

    def _send(self, view: memoryview, fds: Sequence[int]) -> int:
        """Send what the kernel takes now: bytes sent, 0 if it would block, -1 if closed."""
        try:
            if fds:
                ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
                return self._sock.sendmsg([view], ancillary, socket.MSG_NOSIGNAL)
            return self._sock.send(view, socket.MSG_NOSIGNAL)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError as exc:
            self._error = exc
            self.close()
            return -1

    def _on_writable(self) -> None:
        while self._out:
            view, fds = self._out[0]
            sent = self._send(view, fds)
            if sent < 0:
                return
            if sent == 0:
                return
            self._out_size -= sent
            if sent < len(view):
                self._out[0] = (view[sent:], ())
                return
            self._out.popleft()
        self._loop.remove_writer(self._fileno)
        self._writing = False
        self._wake_drainers()

    def _wake_drainers(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- closing -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the socket and every unclaimed received descriptor (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._pause_reading()
        if self._writing:
            self._loop.remove_writer(self._fileno)
            self._writing = False
        self._out.clear()
        self._out_size = 0
        while self._fds:
            with contextlib.suppress(OSError):
                os.close(self._fds.popleft())
        with contextlib.suppress(OSError):
            self._sock.close()
        self._wake_reader()
        self._wake_drainers()
