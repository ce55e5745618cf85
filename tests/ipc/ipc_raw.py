"""A raw JSON-RPC connection for protocol tests (frames by hand, no client library)."""

from __future__ import annotations

import json
import socket
import struct
from pathlib import Path
from typing import Any


class RawConnection:
    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self._ids = 0

    def send_bytes(self, payload: bytes) -> None:
        self.sock.sendall(struct.pack(">I", len(payload)) + payload)

    def send(self, message: Any) -> None:
        self.send_bytes(json.dumps(message).encode())

    def recv(self) -> dict[str, Any] | None:
        header = self._exactly(4)
        if header is None:
            return None
        (size,) = struct.unpack(">I", header)
        body = self._exactly(size)
        assert body is not None
        return json.loads(body)  # type: ignore[no-any-return]

    def _exactly(self, size: int) -> bytes | None:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._ids += 1
        self.send({"jsonrpc": "2.0", "id": self._ids, "method": method, "params": params or {}})
        while True:
            reply = self.recv()
            assert reply is not None, "connection closed"
            if reply.get("id") == self._ids:
                return reply

    def close(self) -> None:
        self.sock.close()
