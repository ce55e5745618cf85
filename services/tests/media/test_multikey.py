"""Several keys: two tracks under different KIDs, and a key change by sample group ('seig').

The fixtures are made from the shared vectors: samples are decrypted with the vector's key and
re-encrypted under a second key with the same IVs (AES-CTR), and the KID the format carries for
them is changed (the audio track's 'tenc', or a fragment-local 'seig' sample group).
"""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import pytest
from drmkit.cli import _register_commands, app
from drmkit.media import parse
from drmkit.media.boxes import children, iter_boxes
from drmkit.media.testing import check_against_oracle, decrypt_sample
from drmkit.testing.tools import tool
from drmkit.testing.vectors import ENCRYPTED_VECTORS
from typer.testing import CliRunner

KID_A = bytes.fromhex("0123456789abcdef0123456789abcdef")
KEY_A = bytes.fromhex("00112233445566778899aabbccddeeff")
KID_B = bytes.fromhex("fedcba9876543210fedcba9876543210")
KEY_B = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")

_register_commands()
runner = CliRunner()


def _vector(name: str):  # type: ignore[no-untyped-def]
    return next(v for v in ENCRYPTED_VECTORS if v.name == name)


def _rekey(buf: bytearray, samples) -> None:  # type: ignore[no-untyped-def]
    """Re-encrypt ``samples`` (cenc, so AES-CTR) from key A to key B, IVs unchanged."""
    view = memoryview(buf)
    for s in samples:
        decrypt_sample(view[s.offset : s.offset + s.size], s, KEY_A)
        decrypt_sample(view[s.offset : s.offset + s.size], s, KEY_B)


def two_track_file() -> bytearray:
    """ffmpeg_cenc_flat with its audio track (track 2) under KID_B/KEY_B."""
    buf = _vector("generated_ffmpeg_cenc_flat").read()
    media = parse(buf)
    _rekey(buf, media.tracks[2].samples)
    tencs = []
    pos = buf.find(b"tenc")
    while pos >= 0:
        tencs.append(pos)
        pos = buf.find(b"tenc", pos + 1)
    assert len(tencs) == 2
    buf[tencs[1] + 12 : tencs[1] + 28] = KID_B
    return buf


def seig_file() -> bytearray:
    """packager_cenc_v with samples 25..49 moved to KID_B by a fragment-local 'seig' group."""
    buf = _vector("generated_packager_cenc_v").read()
    media = parse(buf)
    _rekey(buf, media.tracks[1].samples[25:])
    seig = struct.pack(">BBBB", 0, 0, 1, 8) + KID_B
    sgpd = struct.pack(">I4sI4sII", 8 + 4 + 4 + 4 + 4 + len(seig), b"sgpd", 1 << 24, b"seig",
                       len(seig), 1) + seig  # fmt: skip
    sbgp = struct.pack(">I4sI4sIIIII", 36, b"sbgp", 0, b"seig", 2, 25, 0, 25, 0x10001)
    extra = sbgp + sgpd
    moof = next(b for b in iter_boxes(buf, 0, len(buf)) if b.type == "moof")
    traf = next(b for b in children(buf, moof) if b.type == "traf")
    trun = next(b for b in children(buf, traf) if b.type == "trun")
    sidx = next(b for b in iter_boxes(buf, 0, len(buf)) if b.type == "sidx")
    # grow moof and traf, move the trun data offset past the new bytes, fix the sidx size
    struct.pack_into(">I", buf, moof.start, moof.size + len(extra))
    struct.pack_into(">I", buf, traf.start, traf.size + len(extra))
    offset = struct.unpack_from(">i", buf, trun.payload_start + 8)[0]
    struct.pack_into(">i", buf, trun.payload_start + 8, offset + len(extra))
    ref = sidx.payload_start + 4 + 4 + 4 + 8 + 2 + 2  # v1: ref_ID, timescale, 64-bit times
    if buf[sidx.payload_start] == 0:
        ref -= 8
    word = struct.unpack_from(">I", buf, ref)[0]
    struct.pack_into(">I", buf, ref, word + len(extra))
    return buf[: traf.end] + extra + buf[traf.end :]


def _decrypt(tmp_path: Path, data: bytearray, *keys: tuple[bytes, bytes]):  # type: ignore[no-untyped-def]
    src = tmp_path / "in.mp4"
    src.write_bytes(data)
    out = tmp_path / "out.mp4"
    args = ["decrypt", str(src), "-o", str(out), "--json"]
    for kid, key in keys:
        args += ["--key", f"{kid.hex()}:{key.hex()}"]
    return runner.invoke(app, args), out


def test_two_tracks_with_different_keys(tmp_path: Path) -> None:
    data = two_track_file()
    media = parse(data)
    assert media.tracks[1].key_ids() == [KID_A] and media.tracks[2].key_ids() == [KID_B]
    result, out = _decrypt(tmp_path, data, (KID_A, KEY_A), (KID_B, KEY_B))
    assert result.exit_code == 0, result.output
    clear = out.read_bytes()
    check_against_oracle(clear, parse(clear), _vector("generated_ffmpeg_cenc_flat").oracle())


def test_two_tracks_missing_the_second_key_names_track_2(tmp_path: Path) -> None:
    result, out = _decrypt(tmp_path, two_track_file(), (KID_A, KEY_A))
    assert result.exit_code == 1
    assert f"no key for track 2: key id {KID_B.hex()} is missing" in result.output
    assert not out.exists()


def test_key_change_by_sample_group(tmp_path: Path) -> None:
    data = seig_file()
    media = parse(data)
    kids = [s.key_id for s in media.tracks[1].samples]
    assert kids == [KID_A] * 25 + [KID_B] * 25
    (tmp_path / "x.mp4").write_bytes(data)
    report = json.loads(runner.invoke(app, ["inspect", "--json", str(tmp_path / "x.mp4")]).stdout)
    assert report["tracks"][0]["key_ids"] == [KID_A.hex(), KID_B.hex()]
    result, out = _decrypt(tmp_path, data, (KID_A, KEY_A), (KID_B, KEY_B))
    assert result.exit_code == 0, result.output
    clear = out.read_bytes()
    assert b"seig" not in clear
    check_against_oracle(clear, parse(clear), _vector("generated_packager_cenc_v").oracle())
    ffmpeg = tool("ffmpeg")
    played = subprocess.run([ffmpeg, "-v", "error", "-i", str(out), "-f", "null", "-"],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert played.returncode == 0 and played.stderr == ""


def test_key_change_by_sample_group_needs_both_keys(tmp_path: Path) -> None:
    result, out = _decrypt(tmp_path, seig_file(), (KID_A, KEY_A))
    assert result.exit_code == 1
    assert f"no key for track 1: key id {KID_B.hex()} is missing" in result.output
    assert not out.exists()


@pytest.mark.parametrize("index", [0, 2])
def test_seig_group_index_out_of_range_is_a_format_error(index: int) -> None:
    from drmkit.media import MediaFormatError

    data = seig_file()
    pos = data.find(b"sbgp")
    # the second run's group index: 0x10000 is global (the track's 'stbl' has no groups),
    # 0x10002 is fragment-local entry 2 (the 'sgpd' has one)
    struct.pack_into(">I", data, pos + 28, 0x10000 + index)
    with pytest.raises(MediaFormatError, match="sample group description index"):
        parse(data)
