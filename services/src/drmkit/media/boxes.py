"""Bounded, offset-aware reading of ISO-BMFF boxes.

Every read is checked against the end of the box it belongs to, and every failure raises
:class:`~drmkit.media.errors.MediaFormatError` carrying the file offset of the bad field. A box
always advances the reader by at least its 8-byte header, and callers descend only into the
containers they know (a fixed nesting), so no input can make the reader loop or recurse without
bound.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from drmkit.media.errors import MediaFormatError

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


@dataclass(frozen=True, slots=True)
class Box:
    """One box: its four-character type and where its header and payload lie in the buffer."""

    type: str
    start: int
    header_size: int
    end: int
    #: Extended type of a ``uuid`` box (16 bytes), empty otherwise.
    user_type: bytes = b""
    #: True when the box was written with a 64-bit ``largesize``.
    large: bool = False

    @property
    def payload_start(self) -> int:
        """Offset of the first byte after the header (after the user type of a ``uuid`` box)."""
        return self.start + self.header_size

    @property
    def size(self) -> int:
        """Total size of the box including its header."""
        return self.end - self.start


def iter_boxes(buf: bytes | bytearray | memoryview, start: int, end: int) -> Iterator[Box]:
    """Yield the boxes laid out back to back in ``buf[start:end]``.

    A size of 0 means "to the end of the parent"; a size of 1 means a 64-bit size follows. A box
    that does not fit in its parent, or whose size is smaller than its own header, is an error.
    """
    pos = start
    while pos < end:
        if end - pos < 8:
            raise MediaFormatError(f"truncated box header ({end - pos} bytes left)", pos)
        size = _U32.unpack_from(buf, pos)[0]
        box_type = bytes(buf[pos + 4 : pos + 8]).decode("latin-1")
        header = 8
        large = False
        if size == 1:
            if end - pos < 16:
                raise MediaFormatError(f"truncated 64-bit size of box '{box_type}'", pos)
            size = _U64.unpack_from(buf, pos + 8)[0]
            header = 16
            large = True
        elif size == 0:
            size = end - pos
        user_type = b""
        if box_type == "uuid":
            if end - pos < header + 16:
                raise MediaFormatError("truncated user type of a 'uuid' box", pos)
            user_type = bytes(buf[pos + header : pos + header + 16])
            header += 16
        if size < header:
            raise MediaFormatError(
                f"box '{box_type}' declares size {size}, smaller than its {header}-byte header", pos
            )
        if size > end - pos:
            raise MediaFormatError(
                f"box '{box_type}' declares size {size} but only {end - pos} bytes remain in "
                "its parent",
                pos,
            )
        yield Box(box_type, pos, header, pos + size, user_type, large)
        pos += size


def children(buf: bytes | bytearray | memoryview, box: Box, skip: int = 0) -> list[Box]:
    """Return the child boxes of ``box``, starting ``skip`` bytes into its payload."""
    first = box.payload_start + skip
    if first > box.end:
        raise MediaFormatError(f"box '{box.type}' too small for its fields", box.start)
    return list(iter_boxes(buf, first, box.end))


class Cursor:
    """A big-endian field reader confined to ``[pos, end)`` of a buffer."""

    __slots__ = ("buf", "end", "pos", "what")

    def __init__(
        self, buf: bytes | bytearray | memoryview, pos: int, end: int, what: str = "box"
    ) -> None:
        self.buf = buf
        self.pos = pos
        self.end = end
        self.what = what

    @classmethod
    def of(cls, buf: bytes | bytearray | memoryview, box: Box) -> Cursor:
        """Return a cursor over the payload of ``box``."""
        return cls(buf, box.payload_start, box.end, f"'{box.type}'")

    @property
    def remaining(self) -> int:
        """Bytes left before the end of the confined range."""
        return self.end - self.pos

    def need(self, count: int, field: str = "field") -> None:
        """Raise unless ``count`` more bytes are available."""
        if count < 0 or self.pos + count > self.end:
            raise MediaFormatError(
                f"truncated {self.what}: {field} needs {count} bytes, {self.end - self.pos} left",
                self.pos,
            )

    def u8(self, field: str = "field") -> int:
        """Read an unsigned 8-bit integer."""
        self.need(1, field)
        value = self.buf[self.pos]
        self.pos += 1
        return int(value)

    def u16(self, field: str = "field") -> int:
        """Read a big-endian unsigned 16-bit integer."""
        self.need(2, field)
        value: int = _U16.unpack_from(self.buf, self.pos)[0]
        self.pos += 2
        return value

    def u24(self, field: str = "field") -> int:
        """Read a big-endian unsigned 24-bit integer."""
        self.need(3, field)
        b = self.buf
        value = (b[self.pos] << 16) | (b[self.pos + 1] << 8) | b[self.pos + 2]
        self.pos += 3
        return int(value)

    def u32(self, field: str = "field") -> int:
        """Read a big-endian unsigned 32-bit integer."""
        self.need(4, field)
        value: int = _U32.unpack_from(self.buf, self.pos)[0]
        self.pos += 4
        return value

    def u64(self, field: str = "field") -> int:
        """Read a big-endian unsigned 64-bit integer."""
        self.need(8, field)
        value: int = _U64.unpack_from(self.buf, self.pos)[0]
        self.pos += 8
        return value

    def read(self, count: int, field: str = "field") -> bytes:
        """Read ``count`` raw bytes."""
        self.need(count, field)
        value = bytes(self.buf[self.pos : self.pos + count])
        self.pos += count
        return value

    def skip(self, count: int, field: str = "field") -> None:
        """Skip ``count`` bytes."""
        self.need(count, field)
        self.pos += count

    def full_header(self) -> tuple[int, int]:
        """Read the version and 24-bit flags of a FullBox."""
        version = self.u8("version")
        flags = self.u24("flags")
        return version, flags

    def table(self, fmt: str, count: int, field: str) -> list[tuple[int, ...]]:
        """Read ``count`` fixed-layout entries of struct format ``fmt`` (big-endian) at once."""
        entry = struct.Struct(">" + fmt)
        total = entry.size * count
        self.need(total, f"{count} {field} entries")
        start = self.pos
        self.pos += total
        if count == 0 or entry.size == 0:
            return []
        return list(entry.iter_unpack(self.buf[start : start + total]))
