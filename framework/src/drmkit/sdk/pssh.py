"""ISO/IEC 23001-7 ``pssh`` boxes: the one parser and builder of drmkit, and the system-id table.

``cenc`` init data is one or more concatenated ``pssh`` boxes of any DRM system; every byte must
belong to a box. Both box versions are read (v1 lists key ids in the box header), as are the
64-bit ``largesize`` form (size 1), size 0 ("to the end of the data") and PIFF's ``uuid``
protection-header box (which carries the same fields, without key ids). A box that lies (a size
shorter than its header or longer than the data, a data size that disagrees with the box size, an
unknown version) raises :class:`PsshError` naming the offset. Media files (``drmkit inspect``,
``drmkit decrypt``), every key-system plugin and the reference CDM's tests use this module.

The box layout is fixed-width big-endian integers, so ``struct`` reads it directly; no container
library is needed for six fields.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

from drmkit.errors import InvalidInitDataError

COMMON_SYSTEM_ID = bytes.fromhex("1077efecc0b24d02ace33c1e52e2fb4b")
WIDEVINE_SYSTEM_ID = bytes.fromhex("edef8ba979d64acea3c827dcd51d21ed")
PLAYREADY_SYSTEM_ID = bytes.fromhex("9a04f07998404286ab92e65be0885f95")
PIFF_PSSH_UUID = bytes.fromhex("d08a4f1810f34a82b6c832d8aba183d3")
"""The user type of PIFF's ``uuid`` protection-header box (a ``pssh`` without key ids)."""

SYSTEM_NAMES: dict[bytes, str] = {
    COMMON_SYSTEM_ID: "Common (W3C Clear Key)",
    WIDEVINE_SYSTEM_ID: "Widevine",
    PLAYREADY_SYSTEM_ID: "PlayReady",
    bytes.fromhex("e2719d58a985b3c9781ab030af78d30e"): "ClearKey (DASH-IF)",
    bytes.fromhex("94ce86fb07ff4f43adb893d2fa968ca2"): "FairPlay",
    bytes.fromhex("5e629af538da4063897797ffbd9902d4"): "Marlin",
    bytes.fromhex("f239e769efa348509c16a903c6932efb"): "Adobe Primetime",
    bytes.fromhex("adb41c242dbf4a6d958b4457c0d27b95"): "Nagra",
    bytes.fromhex("3d5e6d359b9a41e8b843dd3c6e72c42c"): "ChinaDRM / WisePlay",
    bytes.fromhex("9a27dd82fde247258cbc4234aa06ec09"): "Verimatrix VCAS",
    bytes.fromhex("80a6be7e14484c379e70d5aebe04c8d2"): "Irdeto",
    bytes.fromhex("644fe7b5260f4fad949a0762ffb054b4"): "CMLA (OMA DRM)",
}
"""Registered protection system ids (DASH-IF content protection identifiers) and their names."""

MAX_PSSH_BOXES = 64
"""More boxes than this in one init data is not real media (the largest real sets hold ~5)."""

_HEADER = struct.Struct(">I4s")
_FULL_BOX = 4  # version (1 byte) + flags (3 bytes)
_SYSTEM_ID_SIZE = 16
_KEY_ID_SIZE = 16


class PsshError(InvalidInitDataError):
    """A malformed ``pssh`` box; ``offset`` is where the box starts in the parsed data."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True, slots=True)
class PsshBox:
    """One parsed ``pssh`` box (``raw`` is the whole box, header included)."""

    offset: int
    size: int
    version: int
    flags: int
    system_id: bytes
    key_ids: tuple[bytes, ...]
    data: bytes
    raw: bytes

    @property
    def system_uuid(self) -> str:
        """The system id in UUID form (``edef8ba9-79d6-...``)."""
        return format_uuid(self.system_id)

    @property
    def system_name(self) -> str:
        """The registered name of the system, or ``"unknown"``."""
        return system_name(self.system_id)


def system_name(system_id: bytes) -> str:
    """Return the registered name of a protection system id, or ``"unknown"``."""
    return SYSTEM_NAMES.get(system_id, "unknown")


def format_uuid(value: bytes) -> str:
    """Format 16 bytes as a lower-case UUID string."""
    return str(uuid.UUID(bytes=value))


def _box_size(data: bytes, offset: int) -> tuple[int, int, bool]:
    """Return ``(size, header_size, piff)`` of the box at ``offset``, checked against the data."""
    remaining = len(data) - offset
    if remaining < _HEADER.size:
        raise PsshError(f"truncated box header at offset {offset}: {remaining} bytes left", offset)
    size, box_type = _HEADER.unpack_from(data, offset)
    header = _HEADER.size
    if size == 1:  # 64-bit largesize follows the type
        if remaining < header + 8:
            raise PsshError(f"pssh box at offset {offset} has a truncated largesize", offset)
        (size,) = struct.unpack_from(">Q", data, offset + header)
        header += 8
    elif size == 0:  # the box extends to the end of the data
        size = remaining
    piff = False
    if box_type == b"uuid":
        if (
            remaining < header + 16
            or data[offset + header : offset + header + 16] != PIFF_PSSH_UUID
        ):
            raise PsshError(f"box at offset {offset} is a 'uuid' box, not a PIFF pssh", offset)
        header += 16
        piff = True
    elif box_type != b"pssh":
        raise PsshError(f"box at offset {offset} is {box_type!r}, not b'pssh'", offset)
    minimum = header + _FULL_BOX + _SYSTEM_ID_SIZE + 4
    if size < minimum:
        raise PsshError(
            f"pssh box at offset {offset} claims {size} bytes; a pssh box needs at least {minimum}",
            offset,
        )
    if size > remaining:
        raise PsshError(
            f"pssh box at offset {offset} claims {size} bytes but only {remaining} remain", offset
        )
    return size, header, piff


def parse_pssh_box(data: bytes, offset: int = 0) -> PsshBox:
    """Parse the one ``pssh`` (or PIFF ``uuid``) box at ``offset`` of ``data``."""
    size, position, piff = _box_size(data, offset)
    box = bytes(data[offset : offset + size])
    version = box[position]
    flags = int.from_bytes(box[position + 1 : position + 4], "big")
    position += _FULL_BOX
    if version > 1:
        raise PsshError(f"pssh box at offset {offset} has unknown version {version}", offset)
    system_id = box[position : position + _SYSTEM_ID_SIZE]
    position += _SYSTEM_ID_SIZE
    key_ids: tuple[bytes, ...] = ()
    if version == 1 and not piff:
        if position + 4 > size:
            raise PsshError(f"pssh v1 box at offset {offset} has no key id count", offset)
        (count,) = struct.unpack_from(">I", box, position)
        position += 4
        if count * _KEY_ID_SIZE > size - position - 4:
            raise PsshError(
                f"pssh v1 box at offset {offset} lists {count} key ids that do not fit in"
                f" {size} bytes",
                offset,
            )
        key_ids = tuple(
            box[position + _KEY_ID_SIZE * i : position + _KEY_ID_SIZE * (i + 1)]
            for i in range(count)
        )
        position += _KEY_ID_SIZE * count
    if position + 4 > size:
        raise PsshError(f"pssh box at offset {offset} has no data size", offset)
    (data_size,) = struct.unpack_from(">I", box, position)
    position += 4
    if position + data_size != size:
        raise PsshError(
            f"pssh box at offset {offset}: data size {data_size} does not match the box size"
            f" {size} ({size - position} bytes of data present)",
            offset,
        )
    return PsshBox(offset, size, version, flags, system_id, key_ids, box[position:], box)


def parse_pssh_boxes(data: bytes) -> list[PsshBox]:
    """Parse concatenated ``pssh`` boxes (``cenc`` init data); :class:`PsshError` if malformed."""
    if not data:
        raise PsshError("cenc init data is empty", 0)
    boxes: list[PsshBox] = []
    offset = 0
    while offset < len(data):
        if len(boxes) == MAX_PSSH_BOXES:
            raise PsshError(f"cenc init data holds more than {MAX_PSSH_BOXES} boxes", offset)
        box = parse_pssh_box(data, offset)
        boxes.append(box)
        offset += box.size
    return boxes


def build_pssh_box(
    system_id: bytes,
    data: bytes = b"",
    key_ids: tuple[bytes, ...] | list[bytes] = (),
    version: int = 0,
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
