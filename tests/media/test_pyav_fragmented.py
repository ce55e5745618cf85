"""Fragmented CENC written by FFmpeg 8 (PyAV), with an 'mfra' index: decrypted by ``drmkit
decrypt``, the 'tfra' entries must still point at the (moved) 'moof' boxes."""

from __future__ import annotations

import struct
from pathlib import Path

import av
from drmkit.cli import _register_commands, app
from drmkit.media import parse
from drmkit.media.boxes import children, iter_boxes
from drmkit.media.testing import check_against_oracle
from drmkit.testing.vectors import ENCRYPTED_VECTORS, vectors_dir
from typer.testing import CliRunner

KID = "0123456789abcdef0123456789abcdef"
KEY = "00112233445566778899aabbccddeeff"

_register_commands()


def _encrypt_fragmented(dst: Path) -> None:
    options = {"encryption_scheme": "cenc-aes-ctr", "encryption_key": KEY,
               "encryption_kid": KID, "movflags": "frag_keyframe+empty_moov"}  # fmt: skip
    src = vectors_dir() / "generated/clear_testsrc.mp4"
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mp4", options=options) as out:
        stream_in = inp.streams.video[0]
        stream_out = out.add_stream_from_template(stream_in)
        for packet in inp.demux(stream_in):
            if packet.dts is not None:
                packet.stream = stream_out
                out.mux(packet)


def _tfra_offsets(data: bytes) -> list[int]:
    mfra = next(b for b in iter_boxes(data, 0, len(data)) if b.type == "mfra")
    offsets = []
    for tfra in (b for b in children(data, mfra) if b.type == "tfra"):
        version = data[tfra.payload_start]
        _, lengths, count = struct.unpack_from(">III", data, tfra.payload_start + 4)
        extra = sum(((lengths >> s) & 3) + 1 for s in (4, 2, 0))
        pos = tfra.payload_start + 16
        for _ in range(count):
            width = 8 if version == 1 else 4
            offsets.append(int.from_bytes(data[pos + width : pos + 2 * width], "big"))
            pos += 2 * width + extra
    return offsets


def test_pyav_fragmented_cenc_with_mfra(tmp_path: Path) -> None:
    encrypted = tmp_path / "frag.mp4"
    _encrypt_fragmented(encrypted)
    data = encrypted.read_bytes()
    assert parse(data).fragments >= 2
    assert _tfra_offsets(data)
    out = tmp_path / "clear.mp4"
    result = CliRunner().invoke(
        app, ["decrypt", str(encrypted), "-o", str(out), "--key", f"{KID}:{KEY}"]
    )
    assert result.exit_code == 0, result.output
    clear = out.read_bytes()
    moofs = {b.start for b in iter_boxes(clear, 0, len(clear)) if b.type == "moof"}
    assert _tfra_offsets(clear) and set(_tfra_offsets(clear)) <= moofs
    vector = next(v for v in ENCRYPTED_VECTORS if v.name == "generated_packager_cenc_v")
    check_against_oracle(clear, parse(clear), vector.oracle())  # the same 50 video samples
