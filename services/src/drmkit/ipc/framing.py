"""Length-prefixed frames: a 4-byte big-endian payload length, then the payload (UTF-8 JSON).

A length prefix (rather than newline-delimited JSON) lets the receiver refuse an oversized frame
from its header alone, before buffering it, and keeps binary-safe payloads possible.
"""

from __future__ import annotations

import struct

from drmkit.errors import DrmkitError

HEADER = struct.Struct(">I")
"""The frame header: payload length as an unsigned 32-bit big-endian integer."""

DEFAULT_MAX_FRAME = 1024 * 1024
"""Largest payload accepted unless configured otherwise (bytes)."""


class FrameError(DrmkitError):
    """The byte stream cannot be split into frames any more (the connection must be dropped)."""


class FrameTooLargeError(FrameError):
    """A frame header announced a payload larger than the configured maximum."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"frame of {size} bytes exceeds the {limit}-byte limit")
        self.size = size
        self.limit = limit


def encode_frame(payload: bytes, max_size: int = DEFAULT_MAX_FRAME) -> bytes:
    """Return ``payload`` with its header; ``FrameTooLargeError`` if it exceeds ``max_size``."""
    if len(payload) > max_size:
        raise FrameTooLargeError(len(payload), max_size)
    return HEADER.pack(len(payload)) + payload


class FrameDecoder:
    """Splits received bytes into payloads; feed it bytes, then pop complete frames."""

    __slots__ = ("_buffer", "_max_size")

    def __init__(self, max_size: int = DEFAULT_MAX_FRAME) -> None:
        self._buffer = bytearray()
        self._max_size = max_size

    @property
    def buffered(self) -> int:
        """Bytes received and not yet returned as frames."""
        return len(self._buffer)

    def feed(self, data: bytes) -> None:
        """Append received bytes."""
        self._buffer += data

    def next_frame(self) -> bytes | None:
        """Return the next complete payload, ``None`` if more bytes are needed.

        Raises ``FrameTooLargeError`` as soon as a header announces an oversized payload.
        """
        buffer = self._buffer
        if len(buffer) < HEADER.size:
            return None
        (size,) = HEADER.unpack_from(buffer)
        if size > self._max_size:
            raise FrameTooLargeError(size, self._max_size)
        end = HEADER.size + size
        if len(buffer) < end:
            return None
        payload = bytes(buffer[HEADER.size : end])
        del buffer[:end]
        return payload
