"""Parser and clear writer against every shared vector, with an independent CENC decryptor."""

from __future__ import annotations

import io
import subprocess

import av
import pytest
from drmkit.media import parse
from drmkit.media.testing import check_against_oracle, decrypt_sample, sample_bytes
from drmkit.media.writer import write_clear
from drmkit.testing.tools import tool
from drmkit.testing.vectors import CLEAR_VECTORS, ENCRYPTED_VECTORS, Vector, vectors_dir


def _decrypt_all(vector: Vector) -> tuple[bytearray, object]:
    buf = vector.read()
    media = parse(buf)
    keys = vector.key_map()
    view = memoryview(buf)
    for track in media.tracks.values():
        for s in track.samples:
            if s.scheme is not None:
                decrypt_sample(view[s.offset : s.offset + s.size], s, keys[s.key_id])
    return buf, media


@pytest.mark.parametrize("vector", ENCRYPTED_VECTORS, ids=lambda v: v.name)
def test_parsed_metadata_decrypts_to_the_oracle(vector: Vector) -> None:
    buf, media = _decrypt_all(vector)
    check_against_oracle(buf, media, vector.oracle())  # type: ignore[arg-type]


@pytest.mark.parametrize("vector", ENCRYPTED_VECTORS, ids=lambda v: v.name)
def test_parsed_encryption_matches_the_key_table(vector: Vector) -> None:
    media = parse(vector.read())
    table = vector.key_table()
    kids = {k["kid"] for k in table["keys"]}
    for track in media.tracks.values():
        entry = track.protected_entry
        assert entry is not None and entry.tenc is not None
        assert entry.tenc.key_id.hex() in kids
        assert {k.hex() for k in track.key_ids()} <= kids
        assert entry.scheme == ("cbcs" if "cbcs" in vector.name else "cenc")


def test_clear_lead_samples_are_not_marked_protected() -> None:
    media = parse(ENCRYPTED_VECTORS[0].read())
    (track,) = media.tracks.values()
    flags = [s.scheme is not None for s in track.samples]
    assert flags == [False] * 96 + [True] * 24
    assert [e.fourcc for e in track.entries] == ["encv", "avc1"]


def test_cbcs_metadata() -> None:
    video = parse(next(v for v in ENCRYPTED_VECTORS if v.name.endswith("cbcs_v")).read())
    (track,) = video.tracks.values()
    s = track.samples[0]
    assert (s.crypt_byte_block, s.skip_byte_block) == (1, 9)
    assert s.iv.hex() == "597d207a912d052bdae64c824fc9259e"
    audio = parse(next(v for v in ENCRYPTED_VECTORS if v.name.endswith("cbcs_a")).read())
    (track,) = audio.tracks.values()
    assert all(s.subsamples is None for s in track.samples)
    assert (track.samples[0].crypt_byte_block, track.samples[0].skip_byte_block) == (0, 0)


def test_multi_subsample_layout_of_the_flat_ffmpeg_file() -> None:
    media = parse(next(v for v in ENCRYPTED_VECTORS if "flat" in v.name).read())
    first = media.tracks[1].samples[0]
    assert first.subsamples == ((5, 683), (5, 3144))
    assert len(first.iv) == 8


@pytest.mark.parametrize("vector", ENCRYPTED_VECTORS, ids=lambda v: v.name)
def test_written_clear_file_has_no_encryption_and_same_samples(vector: Vector, tmp_path) -> None:
    buf, media = _decrypt_all(vector)
    out = io.BytesIO()
    write_clear(buf, media, out)
    clear = out.getvalue()
    reparsed = parse(clear)
    assert reparsed.protected_samples() == 0
    assert reparsed.pssh == []
    for before, after in zip(media.tracks.values(), reparsed.tracks.values(), strict=True):  # type: ignore[attr-defined]
        assert [e.fourcc for e in after.entries] == [e.original_format for e in before.entries]
        assert all(e.scheme is None for e in after.entries)
        assert sample_bytes(clear, after) == sample_bytes(buf, before)
    for box in (b"sinf", b"senc", b"saiz", b"saio", b"pssh", b"encv", b"enca", b"seig"):
        assert box not in clear
    path = tmp_path / "clear.mp4"
    path.write_bytes(clear)
    check_against_oracle(clear, reparsed, vector.oracle())
    # PyAV (FFmpeg 8) demuxes and decodes every frame without error.
    with av.open(str(path)) as container:
        container.streams.video  # noqa: B018
        frames = sum(1 for _ in container.decode(*container.streams))
    assert frames > 0
    # FFmpeg's own command line decodes it without a warning.
    ffmpeg = tool("ffmpeg")
    result = subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stderr == ""


def test_flat_ffmpeg_file_decrypts_to_the_clear_original_byte_for_byte() -> None:
    vector = next(v for v in ENCRYPTED_VECTORS if "flat" in v.name)
    buf, media = _decrypt_all(vector)
    out = io.BytesIO()
    write_clear(buf, media, out)
    original = (vectors_dir() / CLEAR_VECTORS["generated_clear_testsrc"]).read_bytes()
    assert out.getvalue() == original


@pytest.mark.parametrize("name", ["spe_encrypted_low", "spe_encrypted_low_cenc"])
def test_spe_samples_equal_clear_low(name: str) -> None:
    vector = next(v for v in ENCRYPTED_VECTORS if v.name == name)
    buf, media = _decrypt_all(vector)
    clear = (vectors_dir() / CLEAR_VECTORS["spe_clear_low"]).read_bytes()
    clear_media = parse(clear)
    assert sample_bytes(buf, media.tracks[1]) == sample_bytes(clear, clear_media.tracks[1])  # type: ignore[attr-defined]


def test_wrong_key_never_yields_the_oracle() -> None:
    vector = ENCRYPTED_VECTORS[1]
    buf = vector.read()
    media = parse(buf)
    view = memoryview(buf)
    for s in media.tracks[1].samples:
        decrypt_sample(view[s.offset : s.offset + s.size], s, bytes(16))
    with pytest.raises(AssertionError):
        check_against_oracle(buf, media, vector.oracle())
