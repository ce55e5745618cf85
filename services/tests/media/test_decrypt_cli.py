"""``drmkit decrypt`` end to end: the framework's ClearKey session, the HAL, the reference CDM."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import av
import pytest
from drmkit.cli import _register_commands, app
from drmkit.media import parse
from drmkit.media.testing import check_against_oracle
from drmkit.testing.vectors import ENCRYPTED_VECTORS, Vector
from typer.testing import CliRunner

_register_commands()
runner = CliRunner()


def _key_args(keys: dict[bytes, bytes]) -> list[str]:
    return [arg for kid, key in keys.items() for arg in ("--key", f"{kid.hex()}:{key.hex()}")]


def _decrypt(inputs: list[Path], out: Path, keys: dict[bytes, bytes], *extra: str):  # type: ignore[no-untyped-def]
    return runner.invoke(
        app, ["decrypt", *map(str, inputs), "-o", str(out), *_key_args(keys), *extra]
    )


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("vector", ENCRYPTED_VECTORS, ids=lambda v: v.name)
def test_decrypt_reproduces_the_oracle(vector: Vector, tmp_path: Path) -> None:
    out = tmp_path / "clear.mp4"
    result = _decrypt(vector.paths(), out, vector.key_map(), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    clear = out.read_bytes()
    media = parse(clear)
    assert media.protected_samples() == 0
    check_against_oracle(clear, media, vector.oracle())
    assert summary["output_bytes"] == len(clear)
    assert summary["protected_samples"] == sum(t["protected_samples"] for t in summary["tracks"])
    assert summary["samples"] == sum(t["samples"] for t in vector.oracle()["tracks"])
    with av.open(str(out)) as container:
        assert (
            sum(1 for _ in container.decode(container.streams.video or container.streams.audio)) > 0
        )
    assert _leftovers(tmp_path) == ["clear.mp4"]


def test_missing_key_names_track_and_kid_and_leaves_nothing(tmp_path: Path) -> None:
    vector = ENCRYPTED_VECTORS[2]  # flat ffmpeg file, two tracks, one KID
    other = {bytes(range(16)): bytes(16)}
    result = _decrypt(vector.paths(), tmp_path / "out.mp4", other)
    assert result.exit_code == 1
    assert "no key for track 1: key id 0123456789abcdef0123456789abcdef" in result.output
    assert _leftovers(tmp_path) == []


def test_wrong_key_is_caught_by_the_playready_checksum(tmp_path: Path) -> None:
    vector = next(v for v in ENCRYPTED_VECTORS if v.name == "generated_packager_cenc_v")
    wrong = {kid: bytes(16) for kid in vector.key_map()}
    result = _decrypt(vector.paths(), tmp_path / "out.mp4", wrong)
    assert result.exit_code == 1
    assert "wrong key for key id 0123456789abcdef0123456789abcdef" in result.output
    assert "CHECKSUM" in result.output
    assert _leftovers(tmp_path) == []


def test_wrong_key_without_checksum_never_yields_the_oracle(tmp_path: Path) -> None:
    vector = next(v for v in ENCRYPTED_VECTORS if v.name == "spe_encrypted_low_cenc")
    wrong = {kid: bytes(16) for kid in vector.key_map()}
    out = tmp_path / "out.mp4"
    assert _decrypt(vector.paths(), out, wrong).exit_code == 0
    clear = out.read_bytes()
    with pytest.raises(AssertionError):
        check_against_oracle(clear, parse(clear), vector.oracle())


def test_corrupt_input_reports_the_offset_and_leaves_nothing(tmp_path: Path) -> None:
    vector = next(v for v in ENCRYPTED_VECTORS if v.name == "generated_packager_cenc_a")
    data = vector.read()
    trun = data.find(b"trun") - 4
    struct.pack_into(">I", data, trun, 0xFFFF)
    bad = tmp_path / "in" / "bad.mp4"
    bad.parent.mkdir()
    bad.write_bytes(data)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = _decrypt([bad], out_dir / "out.mp4", vector.key_map())
    assert result.exit_code == 1
    assert "bad.mp4" in result.output and f"at offset {trun}" in result.output
    assert _leftovers(out_dir) == []


def test_existing_output_survives_a_failed_run(tmp_path: Path) -> None:
    vector = ENCRYPTED_VECTORS[2]
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous")
    result = _decrypt(vector.paths(), out, {bytes(range(16)): bytes(16)})
    assert result.exit_code == 1
    assert out.read_bytes() == b"previous"
    assert _leftovers(tmp_path) == ["out.mp4"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--key", "nothex"], "is not KID:KEY"),
        (["--key", "00:11"], "neither 32 hex digits"),
    ],
)
def test_bad_key_options(tmp_path: Path, args: list[str], message: str) -> None:
    vector = ENCRYPTED_VECTORS[2]
    result = runner.invoke(
        app, ["decrypt", *map(str, vector.paths()), "-o", str(tmp_path / "o.mp4"), *args]
    )
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.parametrize("sessions", ["1", "3"])
def test_any_number_of_sessions_gives_the_same_file(tmp_path: Path, sessions: str) -> None:
    vector = next(v for v in ENCRYPTED_VECTORS if v.name == "generated_ffmpeg_cenc_flat")
    out = tmp_path / "clear.mp4"
    result = _decrypt(vector.paths(), out, vector.key_map(), "--sessions", sessions)
    assert result.exit_code == 0, result.output
    clear = out.read_bytes()
    check_against_oracle(clear, parse(clear), vector.oracle())


def test_sessions_out_of_range_is_a_usage_error(tmp_path: Path) -> None:
    vector = ENCRYPTED_VECTORS[2]
    result = _decrypt(vector.paths(), tmp_path / "o.mp4", vector.key_map(), "--sessions", "0")
    assert result.exit_code == 2


def test_moov_before_mdat_moves_the_chunk_offsets(tmp_path: Path) -> None:
    """FFmpeg CENC with +faststart: removing boxes from moov shifts mdat, so stco must follow."""
    import subprocess

    from drmkit.testing.tools import tool
    from drmkit.testing.vectors import vectors_dir

    vector = next(v for v in ENCRYPTED_VECTORS if v.name == "generated_ffmpeg_cenc_flat")
    (kid, key), *_ = vector.key_map().items()
    encrypted = tmp_path / "faststart.mp4"
    subprocess.run(
        [tool("ffmpeg"), "-v", "error", "-i", str(vectors_dir() / "generated/clear_testsrc.mp4"),
         "-c", "copy", "-encryption_scheme", "cenc-aes-ctr", "-encryption_key", key.hex(),
         "-encryption_kid", kid.hex(), "-movflags", "faststart", str(encrypted)],
        check=True, timeout=60,
    )  # fmt: skip
    data = encrypted.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")
    out = tmp_path / "clear.mp4"
    result = _decrypt([encrypted], out, vector.key_map())
    assert result.exit_code == 0, result.output
    clear = out.read_bytes()
    assert len(clear) < len(data)
    check_against_oracle(clear, parse(clear), vector.oracle())
    played = subprocess.run([tool("ffmpeg"), "-v", "error", "-i", str(out), "-f", "null", "-"],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert played.returncode == 0 and played.stderr == ""


def test_clear_input_is_copied_unchanged(tmp_path: Path) -> None:
    from drmkit.testing.vectors import vectors_dir

    clear = vectors_dir() / "generated/clear_testsrc.mp4"
    out = tmp_path / "out.mp4"
    result = _decrypt([clear], out, {bytes(range(16)): bytes(16)}, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["protected_samples"] == 0
    assert out.read_bytes() == clear.read_bytes()


def test_output_that_is_a_directory_is_a_clear_error(tmp_path: Path) -> None:
    vector = ENCRYPTED_VECTORS[2]
    target = tmp_path / "taken"
    target.mkdir()
    result = _decrypt(vector.paths(), target, vector.key_map())
    assert result.exit_code == 1
    assert "cannot write" in result.output
    assert _leftovers(tmp_path) == ["taken"] and _leftovers(target) == []


async def test_progress_reports_every_protected_byte(tmp_path: Path) -> None:
    from drmkit.container import build_container
    from drmkit.media.decrypt import decrypt_to_file

    vector = next(v for v in ENCRYPTED_VECTORS if v.name == "spe_encrypted_low")
    totals: list[int] = []
    done: list[int] = []

    def start(total: int):  # type: ignore[no-untyped-def]
        totals.append(total)
        return done.append

    container = build_container()
    try:
        summary = await decrypt_to_file(
            container.media_keys_factory(), vector.paths(), tmp_path / "o.mp4",
            vector.key_map(), start,
        )  # fmt: skip
    finally:
        container.shutdown_resources()
    assert totals == [summary.protected_bytes] and sum(done) == summary.protected_bytes
    assert len(done) == summary.protected_samples == 24  # the clear lead is not decrypted


def test_decrypt_leaves_no_state_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.delenv("DRMKIT_STATE_DIR", raising=False)
    vector = ENCRYPTED_VECTORS[2]
    result = _decrypt(vector.paths(), tmp_path / "out.mp4", vector.key_map())
    assert result.exit_code == 0, result.output
    assert list(home.rglob("*")) == []
