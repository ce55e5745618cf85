"""Malformed input gives MediaFormatError with the offset of the fault."""

from __future__ import annotations

import struct

import pytest
from drmkit.media import MediaFormatError, parse
from drmkit.testing.vectors import ENCRYPTED_VECTORS


def _flat() -> bytearray:
    return next(v for v in ENCRYPTED_VECTORS if "flat" in v.name).read()


def _fragmented() -> bytearray:
    return next(v for v in ENCRYPTED_VECTORS if v.name == "generated_packager_cenc_v").read()


def test_empty_input() -> None:
    with pytest.raises(MediaFormatError, match="no boxes"):
        parse(b"")


def test_not_mp4() -> None:
    with pytest.raises(MediaFormatError) as info:
        parse(b"hello world, this is not an mp4 file")
    assert info.value.offset == 0


def test_truncated_file_reports_the_box_that_overruns() -> None:
    data = _fragmented()
    moof = data.find(b"moof") - 4
    cut = data[: moof + 100]
    with pytest.raises(MediaFormatError, match="'moof' declares size") as info:
        parse(cut)
    assert info.value.offset == moof


def test_lying_size_in_a_nested_box() -> None:
    data = _fragmented()
    senc = data.find(b"senc") - 4
    struct.pack_into(">I", data, senc, 0x00FFFFFF)
    with pytest.raises(MediaFormatError, match="'senc'") as info:
        parse(data)
    assert info.value.offset == senc


def test_box_smaller_than_its_header() -> None:
    data = _fragmented()
    tenc = data.find(b"tenc") - 4
    struct.pack_into(">I", data, tenc, 5)
    with pytest.raises(MediaFormatError, match="smaller than its 8-byte header") as info:
        parse(data)
    assert info.value.offset == tenc


def test_subsamples_that_do_not_cover_the_sample() -> None:
    data = _fragmented()
    senc = data.find(b"senc") - 4
    # first entry: 8-byte IV, subsample count, then (clear u16, protected u32)
    clear_pos = senc + 8 + 4 + 4 + 8 + 2
    struct.pack_into(">H", data, clear_pos, struct.unpack_from(">H", data, clear_pos)[0] + 1)
    with pytest.raises(MediaFormatError, match="subsamples cover"):
        parse(data)


def test_senc_count_mismatch() -> None:
    data = _fragmented()
    senc = data.find(b"senc") - 4
    struct.pack_into(">I", data, senc + 12, 49)
    with pytest.raises(MediaFormatError, match="49 entries for 50 samples") as info:
        parse(data)
    assert info.value.offset == senc


def test_huge_sample_count_is_rejected_without_allocating() -> None:
    data = _flat()
    stsz = data.find(b"stsz") - 4
    struct.pack_into(">II", data, stsz + 12, 1000, 0x7FFFFFFF)
    with pytest.raises(MediaFormatError, match="more than the input"):
        parse(data)


def test_chunk_offset_beyond_the_end() -> None:
    data = _flat()
    stco = data.find(b"stco") - 4
    struct.pack_into(">I", data, stco + 16, len(data) - 10)
    with pytest.raises(MediaFormatError, match="beyond the end"):
        parse(data)


def test_tenc_with_invalid_iv_size() -> None:
    data = _fragmented()
    tenc = data.find(b"tenc") - 4
    data[tenc + 15] = 7  # Per_Sample_IV_Size
    with pytest.raises(MediaFormatError, match="IV size 7"):
        parse(data)


def test_protected_entry_without_sinf() -> None:
    data = _fragmented()
    sinf = data.find(b"sinf")
    data[sinf : sinf + 4] = b"free"
    with pytest.raises(MediaFormatError, match="without 'sinf'"):
        parse(data)
