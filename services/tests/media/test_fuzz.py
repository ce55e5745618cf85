"""The parser and writer on mutated real files: only MediaFormatError, never a crash or a hang."""

from __future__ import annotations

import contextlib
import io

from drmkit.media import MediaFormatError, parse
from drmkit.media.writer import write_clear
from drmkit.testing.vectors import ENCRYPTED_VECTORS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Small vectors only, read once: the fuzzer mutates copies of them.
_SEEDS = [v.read() for v in ENCRYPTED_VECTORS if "packager" in v.name or "flat" in v.name]


def _parse_and_write(data: bytearray) -> None:
    try:
        media = parse(data)
        write_clear(data, media, io.BytesIO())
    except MediaFormatError as exc:
        assert 0 <= exc.offset <= len(data)


def _box_header_offsets(data: bytes) -> list[int]:
    """Offsets of the size fields of boxes (where mutations hurt most)."""
    out = []
    for name in (b"moov", b"trak", b"stsd", b"encv", b"enca", b"sinf", b"tenc", b"senc", b"trun",
                 b"tfhd", b"stsz", b"stco", b"stsc", b"saiz", b"saio", b"pssh", b"moof", b"traf",
                 b"sgpd", b"sbgp", b"mdat", b"sidx"):  # fmt: skip
        pos = data.find(name)
        while pos >= 4:
            out.append(pos - 4)
            pos = data.find(name, pos + 1)
    return sorted(out)


@st.composite
def mutated(draw: st.DrawFn) -> bytearray:
    data = bytearray(draw(st.sampled_from(_SEEDS)))
    hot = _box_header_offsets(bytes(data))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        kind = draw(st.sampled_from(["header", "field", "byte", "truncate"]))
        if kind == "header" and hot:
            pos = draw(st.sampled_from(hot))
            value = draw(st.sampled_from([0, 1, 7, 8, 9, 0xFFFFFFFF, 0x7FFFFFFF])
                         | st.integers(0, (1 << 32) - 1))  # fmt: skip
            data[pos : pos + 4] = value.to_bytes(4, "big")
        elif kind == "field" and hot:
            pos = draw(st.sampled_from(hot)) + draw(st.integers(8, 40))
            if pos + 4 <= len(data):
                data[pos : pos + 4] = draw(st.binary(min_size=4, max_size=4))
        elif kind == "byte":
            pos = draw(st.integers(0, len(data) - 1))
            data[pos] = draw(st.integers(0, 255))
        else:
            del data[draw(st.integers(0, len(data))) :]
    return data


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated())
def test_mutated_files_fail_cleanly(data: bytearray) -> None:
    _parse_and_write(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes_fail_cleanly(data: bytes) -> None:
    _parse_and_write(bytearray(data))


def _initdata_seeds() -> list[bytes]:
    import base64
    import json

    from drmkit.testing.vectors import vectors_dir

    samples = json.loads((vectors_dir() / "initdata/initdata_samples.json").read_text())
    return [base64.b64decode(s["base64"]) for s in samples]


_INIT_SEEDS = _initdata_seeds()


@st.composite
def mutated_init_data(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(_INIT_SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        if draw(st.booleans()):
            data[pos] = draw(st.integers(0, 255))
        else:
            del data[pos:]
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated_init_data())
def test_mutated_init_data_fails_cleanly(data: bytes) -> None:
    from drmkit.media.initdata import describe_init_data
    from drmkit.media.keycheck import playready_checksums

    with contextlib.suppress(MediaFormatError):
        describe_init_data(data)
    playready_checksums(data)  # never raises: malformed headers give no checksums
