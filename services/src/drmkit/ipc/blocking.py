"""One blocking JSON-RPC call over a fresh connection (tools, tests, synchronous callers).

Used where no event loop may be entered, e.g. the conformance kit's synchronous reference-CDM
control running against a session server in another process.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from drmkit.ipc.framing import DEFAULT_MAX_FRAME, HEADER, FrameError, encode_frame
from drmkit.ipc.jsonrpc import Response, RpcError, encode_request, parse_incoming


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return bytes(data)


def call_blocking(
    path: str | Path,
    method: str,
    params: dict[str, Any] | None = None,
    *,
    timeout: float = 3.0,
    max_frame: int = DEFAULT_MAX_FRAME,
) -> Any:
    """Call ``method`` and return its result; ``RpcError`` for an error reply.

    Raises ``OSError``/``ConnectionError`` when the server cannot be reached.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(encode_frame(encode_request(1, method, params or {}), max_frame))
        while True:
            (size,) = HEADER.unpack(_recv_exactly(sock, HEADER.size))
            if size > max_frame:
                raise FrameError(f"reply of {size} bytes exceeds {max_frame}")
            message = parse_incoming(_recv_exactly(sock, size))
            if isinstance(message, Response) and message.id == 1:
                if message.error is not None:
                    raise message.error
                return message.result


__all__ = ["RpcError", "call_blocking"]
