"""PlayReady init data: ``pssh`` boxes, PlayReady objects (PRO) and bare DRM headers.

A PlayReady object is ``u32le`` total length (must equal the data), ``u16le`` record count, then
records of ``u16le type, u16le length, value``; type 1 is a WRMHEADER (UTF-16LE), type 3 an
embedded license store (skipped). Every length is checked against the data: a record whose length
runs past the end, a count that promises more records than there are, or bytes left over after
the last record are refused with the offset.

Init data types:

- ``cenc``: one or more ``pssh`` boxes; boxes of the PlayReady system id
  (``9a04f079-9840-4286-ab92-e65be0885f95``) hold a PRO (some packagers put a bare WRMHEADER there:
  accepted too); other systems' boxes are skipped but must be well-formed;
- ``drmheader``: a PRO or a bare WRMHEADER (UTF-16LE).

What reaches the CDM is a PRO (:func:`to_playready_object`), the form every PlayReady CDM reads.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from drmkit.sdk import PLAYREADY_SYSTEM_ID, InvalidInitDataError, PsshError, parse_pssh_boxes

from drmkit_playready_netflix.header import HeaderError, PlayReadyHeader, parse_header

INIT_DATA_TYPES = frozenset({"cenc", "drmheader"})
WRMHEADER_RECORD = 1
_PRO_HEADER = struct.Struct("<IH")
_RECORD = struct.Struct("<HH")


class PlayReadyObjectError(InvalidInitDataError):
    """A PlayReady object whose lengths or records are wrong."""


@dataclass(frozen=True, slots=True)
class ProRecord:
    """One record of a PlayReady object."""

    offset: int
    record_type: int
    value: bytes


@dataclass(frozen=True, slots=True)
class PlayReadyInitData:
    """What PlayReady init data names: its headers (one per WRMHEADER record) and the PRO."""

    headers: tuple[PlayReadyHeader, ...]
    pro: bytes
    """The PlayReady object to give the CDM."""

    @property
    def key_ids(self) -> tuple[bytes, ...]:
        """Every KID of every header (CENC byte order), repeats dropped in order."""
        out: dict[bytes, None] = {}
        for header in self.headers:
            out.update(dict.fromkeys(header.key_ids))
        return tuple(out)


def parse_playready_object(data: bytes) -> list[ProRecord]:
    """Split a PlayReady object into records (``PlayReadyObjectError`` when a length lies)."""
    data = bytes(data)
    if len(data) < _PRO_HEADER.size:
        raise PlayReadyObjectError(f"a PlayReady object needs 6 bytes, got {len(data)}")
    total, count = _PRO_HEADER.unpack_from(data)
    if total != len(data):
        raise PlayReadyObjectError(
            f"the PlayReady object says it is {total} bytes but {len(data)} were given"
        )
    if count == 0:
        raise PlayReadyObjectError("the PlayReady object has no records")
    records = []
    position = _PRO_HEADER.size
    for index in range(count):
        if position + _RECORD.size > len(data):
            raise PlayReadyObjectError(
                f"record #{index} of {count} at offset {position} is past the end ({len(data)})"
            )
        record_type, length = _RECORD.unpack_from(data, position)
        start = position + _RECORD.size
        if start + length > len(data):
            raise PlayReadyObjectError(
                f"record #{index} at offset {position} says {length} bytes but only"
                f" {len(data) - start} remain"
            )
        records.append(ProRecord(position, record_type, data[start : start + length]))
        position = start + length
    if position != len(data):
        raise PlayReadyObjectError(
            f"{len(data) - position} bytes follow the last of {count} records (offset {position})"
        )
    return records


def build_playready_object(header: bytes) -> bytes:
    """Wrap a WRMHEADER (UTF-16LE bytes) in a one-record PlayReady object."""
    if len(header) > 0xFFFF:
        raise ValueError("a WRMHEADER record holds at most 65535 bytes")
    body = _RECORD.pack(WRMHEADER_RECORD, len(header)) + header
    return _PRO_HEADER.pack(_PRO_HEADER.size + len(body), 1) + body


def build_pssh(pro: bytes) -> bytes:
    """Wrap a PlayReady object in a version 0 PlayReady ``pssh`` box."""
    return (
        struct.pack(">I", 32 + len(pro))
        + b"pssh"
        + b"\x00\x00\x00\x00"
        + PLAYREADY_SYSTEM_ID
        + struct.pack(">I", len(pro))
        + pro
    )


def _looks_like_pro(data: bytes) -> bool:
    return len(data) >= _PRO_HEADER.size and _PRO_HEADER.unpack_from(data)[0] == len(data)


def parse_pro_or_header(data: bytes, where: str = "the DRM header") -> PlayReadyInitData:
    """Parse a PlayReady object, or a bare WRMHEADER (then wrapped in a PRO for the CDM)."""
    data = bytes(data)
    if _looks_like_pro(data):
        headers = []
        for record in parse_playready_object(data):
            if record.record_type != WRMHEADER_RECORD:  # e.g. 3, an embedded license store
                continue
            try:
                headers.append(parse_header(record.value))
            except HeaderError as exc:
                raise HeaderError(
                    f"{where}: WRMHEADER record at offset {record.offset}: {exc.message}"
                ) from None
        if not headers:
            raise PlayReadyObjectError(f"{where}: the PlayReady object has no WRMHEADER record")
        return PlayReadyInitData(tuple(headers), data)
    try:
        header = parse_header(data)
    except HeaderError as exc:
        raise HeaderError(
            f"{where} is neither a PlayReady object (its u32 length does not match) nor a"
            f" WRMHEADER: {exc.message}"
        ) from None
    return PlayReadyInitData((header,), build_playready_object(data))


def parse_cenc(data: bytes) -> PlayReadyInitData:
    """Parse ``cenc`` init data: the PlayReady boxes among any number of ``pssh`` boxes."""
    try:
        boxes = parse_pssh_boxes(bytes(data))
    except PsshError as exc:
        raise InvalidInitDataError(f"cenc init data is not pssh boxes: {exc}") from None
    ours = [b for b in boxes if b.system_id == PLAYREADY_SYSTEM_ID]
    if not ours:
        raise InvalidInitDataError(
            "cenc init data has no PlayReady pssh box (9a04f079-9840-4286-ab92-e65be0885f95)"
        )
    headers: list[PlayReadyHeader] = []
    first_pro = b""
    for box in ours:
        parsed = parse_pro_or_header(box.data, f"PlayReady pssh box at offset {box.offset}")
        headers.extend(parsed.headers)
        first_pro = first_pro or parsed.pro
    return PlayReadyInitData(tuple(headers), first_pro)


def parse_init_data(init_data_type: str, data: bytes) -> PlayReadyInitData:
    """Check ``data`` for its type and return what it names (``InvalidInitDataError`` if bad)."""
    if init_data_type == "cenc":
        return parse_cenc(data)
    if init_data_type == "drmheader":
        return parse_pro_or_header(data)
    raise InvalidInitDataError(f"PlayReady has no init data type {init_data_type!r}")


def describe_playready_data(data: bytes) -> dict[str, Any]:
    """Describe the data of a PlayReady ``pssh`` box or a bare PRO (``drmkit inspect``)."""
    records = parse_playready_object(data) if _looks_like_pro(bytes(data)) else []
    description: dict[str, Any] = {
        "pro_length": len(data),
        "records": [{"type": r.record_type, "length": len(r.value)} for r in records],
    }
    parsed = parse_pro_or_header(data, "the PlayReady data")
    description["headers"] = [h.as_dict() for h in parsed.headers]
    description["key_ids"] = [k.hex() for k in parsed.key_ids]
    return description
