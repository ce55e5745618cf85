"""pssh box parsing: versions, several boxes, other systems, and size fields that lie."""

from __future__ import annotations

import struct

import pytest
from drmkit.errors import InvalidInitDataError
from drmkit.sdk.pssh import MAX_PSSH_BOXES, WIDEVINE_SYSTEM_ID, build_pssh_box, parse_pssh_boxes

COMMON = bytes.fromhex("1077efecc0b24d02ace33c1e52e2fb4b")
PLAYREADY = bytes.fromhex("9a04f07998404286ab92e65be0885f95")
KID = bytes(range(16))


def test_v0_and_v1_boxes_in_sequence() -> None:
    data = build_pssh_box(WIDEVINE_SYSTEM_ID, b"\x12\x10" + KID) + build_pssh_box(
        COMMON, b"", [KID, KID[::-1]], version=1
    )
    first, second = parse_pssh_boxes(data)
    assert (first.version, first.system_id, first.key_ids, first.data) == (
        0,
        WIDEVINE_SYSTEM_ID,
        (),
        b"\x12\x10" + KID,
    )
    assert first.system_uuid == "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"
    assert (second.version, second.key_ids, second.offset) == (1, (KID, KID[::-1]), first.size)


def test_largesize_and_size_zero_forms() -> None:
    box = build_pssh_box(WIDEVINE_SYSTEM_ID, b"\x12\x01a")
    body = box[8:]
    large = struct.pack(">I4sQ", 1, b"pssh", 16 + len(body)) + body
    to_end = struct.pack(">I4s", 0, b"pssh") + body
    for data in (large, to_end, box + to_end):
        boxes = parse_pssh_boxes(data)
        assert boxes[-1].data == b"\x12\x01a"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty"),
        (b"\x00\x00\x00\x20pss", "truncated box header"),
        (struct.pack(">I4s", 40, b"moov") + bytes(32), "not b'pssh'"),
        # size field larger than the data
        (struct.pack(">I4s", 64, b"pssh") + bytes(24), "only 32 remain"),
        # size field smaller than any pssh box
        (struct.pack(">I4s", 12, b"pssh") + bytes(24), "at least"),
        # version 2
        (struct.pack(">I4sB3x16sI", 32, b"pssh", 2, WIDEVINE_SYSTEM_ID, 0), "unknown version"),
        # data size disagrees with the box size
        (struct.pack(">I4sB3x16sI", 33, b"pssh", 0, WIDEVINE_SYSTEM_ID, 0) + b"x", "data size 0"),
        (struct.pack(">I4sB3x16sI", 32, b"pssh", 0, WIDEVINE_SYSTEM_ID, 5), "data size 5"),
        # v1 kid count that does not fit
        (
            struct.pack(">I4sB3x16sII", 36, b"pssh", 1, COMMON, 0x10000000, 0),
            "do not fit",
        ),
        # largesize truncated
        (struct.pack(">I4sI", 1, b"pssh", 0), "truncated largesize"),
        # trailing garbage after a good box
        (build_pssh_box(COMMON, b"", [KID], version=1) + b"\x00\x00", "truncated box header"),
    ],
)
def test_malformed_boxes_are_typed_errors(data: bytes, fragment: str) -> None:
    with pytest.raises(InvalidInitDataError, match=fragment.replace("(", r"\(")):
        parse_pssh_boxes(data)


def test_too_many_boxes() -> None:
    box = build_pssh_box(PLAYREADY, b"")
    with pytest.raises(InvalidInitDataError, match="more than"):
        parse_pssh_boxes(box * (MAX_PSSH_BOXES + 1))
    assert len(parse_pssh_boxes(box * MAX_PSSH_BOXES)) == MAX_PSSH_BOXES


def test_builder_refuses_what_no_box_can_hold() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        build_pssh_box(b"short", b"")
    with pytest.raises(ValueError, match="v0"):
        build_pssh_box(COMMON, b"", [KID])
    with pytest.raises(ValueError, match="16 bytes"):
        build_pssh_box(COMMON, b"", [b"x"], version=1)
    with pytest.raises(ValueError, match="not 0 or 1"):
        build_pssh_box(COMMON, b"", version=2)
