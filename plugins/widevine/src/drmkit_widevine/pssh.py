"""ISO/IEC 23001-7 ``pssh`` boxes: strict parsing of ``cenc`` init data and building boxes.

``cenc`` init data is one or more concatenated ``pssh`` boxes of any DRM system; every byte must
belong to a box. Both box versions are read (v1 lists key ids in the box header), as are the
64-bit ``largesize`` form (size 1) and size 0 ("to the end of the data"). A size field that
lies (shorter than the header, longer than the data, or disagreeing with the data size inside)
raises :class:`~drmkit.errors.InvalidInitDataError` naming the offset.

The box layout is fixed-width big-endian integers, so ``struct`` reads it directly; no container
library is needed for six fields.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

from drmkit.sdk import InvalidInitDataError

_HEADER = struct.Struct(">I4s")
_FULL_BOX = 4  # version (1 byte) + flags (3 bytes)
_SYSTEM_ID_SIZE = 16
_KEY_ID_SIZE = 16
MAX_PSSH_BOXES = 64
"""More boxes than this in one init data is not real media (the largest real sets hold ~5)."""


@dataclass(frozen=True, slots=True)
class PsshBox:
    """One parsed ``pssh`` box."""

    offset: int
    size: int
    version: int
    flags: int
    system_id: bytes
    key_ids: tuple[bytes, ...]
    data: bytes

    @property
    def system_uuid(self) -> str:
        """The system id in UUID form (``edef8ba9-79d6-...``)."""
        return str(uuid.UUID(bytes=self.system_id))


def _box_size(data: bytes, offset: int) -> tuple[int, int]:
    """Return ``(size, header_size)`` of the box at ``offset``, checked against the data."""
    remaining = len(data) - offset
    if remaining < _HEADER.size:
        raise InvalidInitDataError(
            f"truncated box header at offset {offset}: {remaining} bytes left"
        )
    size, box_type = _HEADER.unpack_from(data, offset)
    if box_type != b"pssh":
        raise InvalidInitDataError(f"box at offset {offset} is {box_type!r}, not b'pssh'")
    header = _HEADER.size
    if size == 1:  # 64-bit largesize follows the type
        if remaining < header + 8:
            raise InvalidInitDataError(f"pssh box at offset {offset} has a truncated largesize")
        (size,) = struct.unpack_from(">Q", data, offset + header)
        header += 8
    elif size == 0:  # the box extends to the end of the data
        size = remaining
    minimum = header + _FULL_BOX + _SYSTEM_ID_SIZE + 4
    if size < minimum:
        raise InvalidInitDataError(
            f"pssh box at offset {offset} claims {size} bytes; a pssh box needs at least {minimum}"
        )
    if size > remaining:
        raise InvalidInitDataError(
            f"pssh box at offset {offset} claims {size} bytes but only {remaining} remain"
        )
    return size, header


def _parse_box(data: bytes, offset: int) -> PsshBox:
    size, position = _box_size(data, offset)
    box = data[offset : offset + size]
    version = box[position]
    flags = int.from_bytes(box[position + 1 : position + 4], "big")
    position += _FULL_BOX
    if version > 1:
        raise InvalidInitDataError(f"pssh box at offset {offset} has unknown version {version}")
    system_id = box[position : position + _SYSTEM_ID_SIZE]
    position += _SYSTEM_ID_SIZE
    key_ids: tuple[bytes, ...] = ()
    if version == 1:
        if position + 4 > size:
            raise InvalidInitDataError(f"pssh v1 box at offset {offset} has no key id count")
        (count,) = struct.unpack_from(">I", box, position)
        position += 4
        if count * _KEY_ID_SIZE > size - position - 4:
            raise InvalidInitDataError(
                f"pssh v1 box at offset {offset} lists {count} key ids that do not fit in"
                f" {size} bytes"
            )
        key_ids = tuple(
            box[position + _KEY_ID_SIZE * i : position + _KEY_ID_SIZE * (i + 1)]
            for i in range(count)
        )
        position += _KEY_ID_SIZE * count
    if position + 4 > size:
        raise InvalidInitDataError(f"pssh box at offset {offset} has no data size")
    (data_size,) = struct.unpack_from(">I", box, position)
    position += 4
    if position + data_size != size:
        raise InvalidInitDataError(
            f"pssh box at offset {offset}: data size {data_size} does not match the box size"
            f" {size} ({size - position} bytes of data present)"
        )
    return PsshBox(offset, size, version, flags, system_id, key_ids, box[position:])


def parse_pssh_boxes(data: bytes) -> list[PsshBox]:
    """Parse concatenated ``pssh`` boxes; raise ``InvalidInitDataError`` for any malformation."""
    if not data:
        raise InvalidInitDataError("cenc init data is empty")
    boxes: list[PsshBox] = []
    offset = 0
    while offset < len(data):
        if len(boxes) == MAX_PSSH_BOXES:
            raise InvalidInitDataError(f"cenc init data holds more than {MAX_PSSH_BOXES} boxes")
        box = _parse_box(data, offset)
        boxes.append(box)
        offset += box.size
    return boxes


def build_pssh_box(
    system_id: bytes, data: bytes, key_ids: tuple[bytes, ...] | list[bytes] = (), version: int = 0
) -> bytes:
    """Build one ``pssh`` box (``version`` 1 lists ``key_ids`` in the header; 16 bytes each)."""
    if len(system_id) != _SYSTEM_ID_SIZE:
        raise ValueError("a system id is 16 bytes")
    if version not in (0, 1):
        raise ValueError(f"pssh version {version} is not 0 or 1")
    if version == 0 and key_ids:
        raise ValueError("a v0 pssh box has no key id list")
    if any(len(k) != _KEY_ID_SIZE for k in key_ids):
        raise ValueError("pssh box key ids are 16 bytes")
    body = bytes([version, 0, 0, 0]) + system_id
    if version == 1:
        body += struct.pack(">I", len(key_ids)) + b"".join(key_ids)
    body += struct.pack(">I", len(data)) + data
    return _HEADER.pack(_HEADER.size + len(body), b"pssh") + body
