"""All four schemes, several patterns: content made by shaka-packager at test time, decrypted by
``drmkit decrypt`` and cross-checked against FFmpeg, PyAV and an independent implementation."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import av
import pytest
from drmkit.cli import _register_commands, app
from drmkit.media import parse
from drmkit.media.testing import decrypt_sample, sample_bytes
from drmkit.testing.tools import tool
from drmkit.testing.vectors import vectors_dir
from typer.testing import CliRunner

KID = "0123456789abcdef0123456789abcdef"
KEY = "00112233445566778899aabbccddeeff"
# (scheme, pattern): pattern None = the scheme has none; packager applies patterns to video only.
CASES = [
    ("cenc", None),
    ("cbc1", None),
    ("cens", (1, 9)),
    ("cbcs", (1, 9)),
    ("cens", (2, 8)),
    ("cbcs", (2, 8)),
    ("cbcs", (5, 5)),
    ("cens", (3, 7)),
]

_register_commands()
runner = CliRunner()


def _case_id(case: tuple[str, tuple[int, int] | None]) -> str:
    scheme, pattern = case
    return scheme if pattern is None else f"{scheme}-{pattern[0]}:{pattern[1]}"


@pytest.fixture(scope="module")
def clear_source() -> Path:
    path = vectors_dir() / "generated" / "clear_testsrc.mp4"
    if not path.exists():
        pytest.fail(f"missing {path}")
    return path


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory, clear_source: Path) -> dict[str, Path]:
    """Encrypt the clear source once per case: {"<case>/<v|a>": path}."""
    packager = tool("packager")
    root = tmp_path_factory.mktemp("packaged")
    out: dict[str, Path] = {}
    for case in CASES:
        scheme, pattern = case
        name = _case_id(case)
        video, audio = root / f"{name}_v.mp4", root / f"{name}_a.mp4"
        cmd = [
            packager,
            f"in={clear_source},stream=video,output={video}",
            f"in={clear_source},stream=audio,output={audio}",
            "--enable_raw_key_encryption",
            "--keys", f"label=:key_id={KID}:key={KEY}",
            "--protection_scheme", scheme,
            "--clear_lead", "0",
            "--protection_systems", "Widevine,PlayReady,CommonSystem",
        ]  # fmt: skip
        if pattern is not None:
            cmd += ["--crypt_byte_block", str(pattern[0]), "--skip_byte_block", str(pattern[1])]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)
        out[f"{name}/v"], out[f"{name}/a"] = video, audio
    return out


def _ffmpeg_payload_md5(path: Path, key: str | None) -> str:
    ffmpeg = tool("ffmpeg")
    cmd = [ffmpeg, "-v", "error"]
    if key:
        cmd += ["-decryption_key", key]
    cmd += ["-i", str(path), "-map", "0", "-c", "copy", "-f", "data", "-"]
    result = subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    return hashlib.md5(result.stdout).hexdigest()


def _pyav_packets(path: Path, key: str) -> list[bytes]:
    with av.open(str(path), options={"decryption_key": key}) as container:
        return [bytes(p) for p in container.demux(container.streams[0]) if p.size]


def _params() -> list[object]:
    out: list[object] = []
    for case in CASES:
        for kind in ("v", "a"):
            out.append(pytest.param(case, kind, id=f"{kind}-{_case_id(case)}"))
    return out


@pytest.mark.parametrize(("case", "kind"), _params())
def test_scheme_decrypts_like_ffmpeg_pyav_and_the_spec(
    packaged: dict[str, Path], clear_source: Path, tmp_path: Path, case, kind: str
) -> None:  # type: ignore[no-untyped-def]
    scheme, pattern = case
    encrypted = packaged[f"{_case_id(case)}/{kind}"]
    enc_media = parse(encrypted.read_bytes())
    (enc_track,) = enc_media.tracks.values()
    assert enc_track.protected_entry is not None
    assert enc_track.protected_entry.scheme == scheme
    if kind == "v" and pattern is not None:
        assert (enc_track.samples[0].crypt_byte_block, enc_track.samples[0].skip_byte_block) == (
            pattern
        )

    out = tmp_path / "clear.mp4"
    result = runner.invoke(
        app, ["decrypt", str(encrypted), "-o", str(out), "--key", f"{KID}:{KEY}", "--json"]
    )
    assert result.exit_code == 0, result.output
    clear = out.read_bytes()
    media = parse(clear)
    assert media.protected_samples() == 0
    (track,) = media.tracks.values()
    ours = sample_bytes(clear, track)

    # 1. an independent implementation of ISO/IEC 23001-7 (partial-pattern rule included)
    buf = bytearray(encrypted.read_bytes())
    view = memoryview(buf)
    for s in enc_track.samples:
        decrypt_sample(view[s.offset : s.offset + s.size], s, bytes.fromhex(KEY))
    assert ours == sample_bytes(buf, enc_track)

    # 2. FFmpeg's decryption (the reference for partial patterns). FFmpeg (5.1 and 8.1) also
    #    decrypts the partial tail block of pattern-less cens audio, which shaka-packager leaves
    #    clear; there the clear source is the oracle (checked below).
    ffmpeg_broken = scheme == "cens" and kind == "a"
    if not ffmpeg_broken:
        assert hashlib.md5(b"".join(ours)).hexdigest() == _ffmpeg_payload_md5(encrypted, KEY)

    # 3. PyAV (FFmpeg 8) decryption, sample for sample (video: audio packets equal too)
    if not ffmpeg_broken:
        assert _pyav_packets(encrypted, KEY) == ours

    # 4. Where the pattern cannot end in a partial crypt group, packager's encryption is exact
    #    and we must reproduce the clear source byte for byte.
    partial_possible = kind == "v" and pattern is not None and pattern[0] > 1
    source = parse(clear_source.read_bytes())
    source_track = next(t for t in source.tracks.values() if t.handler == track.handler)
    if not partial_possible:
        assert ours == sample_bytes(clear_source.read_bytes(), source_track)

    # 5. The clear output decodes.
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(container.streams[0])) > 0
