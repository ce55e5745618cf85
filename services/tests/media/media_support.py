"""Shared helpers of the media tests: the vectors, their keys and oracles, external tools."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from drmkit.media.model import MediaFile, Track

REPO_ROOT = Path(__file__).resolve().parents[3]


def vectors_dir() -> Path:
    """The shared vectors: ``$DRMKIT_VECTORS_DIR`` or ``../shared/vectors`` beside the repo."""
    override = os.environ.get("DRMKIT_VECTORS_DIR")
    return Path(override) if override else REPO_ROOT.parent / "shared" / "vectors"


def in_ci() -> bool:
    """True when running in CI, where a missing tool or vector is a failure, not a skip."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, what: str) -> None:
    """Skip locally (fail in CI) when ``condition`` is false."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"{what} not available")


def tool(name: str) -> str:
    """Path of an external tool (``ffmpeg``, ``packager``): skip locally, fail in CI, if missing."""
    if name == "packager":
        candidates = [
            os.environ.get("DRMKIT_PACKAGER", ""),
            str(REPO_ROOT / "tools" / "node_modules" / ".bin" / "packager"),
            str(
                REPO_ROOT
                / "tools"
                / "node_modules"
                / "shaka-packager"
                / "bin"
                / "packager-linux-x64"
            ),
            shutil.which("packager") or "",
        ]
        found = next((c for c in candidates if c and os.access(c, os.X_OK)), None)
    else:
        found = shutil.which(name)
    require(found is not None, f"{name} (run scripts/install-system-deps)")
    assert found is not None
    return found


@dataclass(frozen=True)
class Vector:
    """One encrypted vector: its files (concatenated in order), oracle and key table."""

    name: str
    files: tuple[str, ...]
    keys_file: str

    def paths(self) -> list[Path]:
        require(vectors_dir().is_dir(), f"the shared vectors ({vectors_dir()})")
        return [vectors_dir() / f for f in self.files]

    def read(self) -> bytearray:
        return bytearray(b"".join(p.read_bytes() for p in self.paths()))

    def oracle(self) -> dict:  # type: ignore[type-arg]
        return json.loads((vectors_dir() / "oracles" / f"{self.name}.json").read_text())

    def key_table(self) -> dict:  # type: ignore[type-arg]
        return json.loads((vectors_dir() / self.keys_file).read_text())

    def key_map(self) -> dict[bytes, bytes]:
        return {bytes.fromhex(k["kid"]): bytes.fromhex(k["key"]) for k in self.key_table()["keys"]}


_DASH = "dash-clearkey/video-H264-288-400k"
ENCRYPTED_VECTORS = [
    Vector("spe_encrypted_low", ("spe/encrypted_low.mp4",), "spe/keys.json"),
    Vector("spe_encrypted_low_cenc", ("spe/encrypted_low_cenc.mp4",), "spe/keys.json"),
    Vector(
        "generated_ffmpeg_cenc_flat", ("generated/ffmpeg_cenc_flat.mp4",), "generated/keys.json"
    ),
    Vector("generated_packager_cenc_v", ("generated/packager_cenc_v.mp4",), "generated/keys.json"),
    Vector("generated_packager_cenc_a", ("generated/packager_cenc_a.mp4",), "generated/keys.json"),
    Vector("generated_packager_cbcs_v", ("generated/packager_cbcs_v.mp4",), "generated/keys.json"),
    Vector("generated_packager_cbcs_a", ("generated/packager_cbcs_a.mp4",), "generated/keys.json"),
    Vector(
        "shaka_dash_clearkey",
        (f"{_DASH}_init.mp4", f"{_DASH}_1.m4s", f"{_DASH}_2.m4s"),
        "dash-clearkey/keys.json",
    ),
]
CLEAR_VECTORS = {
    "spe_clear_low": "spe/clear_low.mp4",
    "generated_clear_testsrc": "generated/clear_testsrc.mp4",
}


def sample_bytes(buf: bytes | bytearray, track: Track) -> list[bytes]:
    """The payload of every sample of ``track`` in decode order."""
    return [bytes(buf[s.offset : s.offset + s.size]) for s in track.samples]


def check_against_oracle(buf: bytes | bytearray, media: MediaFile, oracle: dict) -> None:  # type: ignore[type-arg]
    """Assert each track's samples match the oracle's per-sample SHA-1 prefixes and MD5."""
    tracks = list(media.tracks.values())
    assert len(tracks) == len(oracle["tracks"])
    for track, expected in zip(tracks, oracle["tracks"], strict=True):
        samples = sample_bytes(buf, track)
        assert len(samples) == expected["samples"]
        digests = [hashlib.sha1(s).hexdigest()[:12] for s in samples]
        first_bad = next(
            (
                i
                for i, (a, b) in enumerate(
                    zip(digests, expected["sha1_12_per_sample"], strict=True)
                )
                if a != b
            ),
            None,
        )
        assert first_bad is None, f"track {track.track_id}: sample {first_bad} differs"
        assert hashlib.md5(b"".join(samples)).hexdigest() == expected["md5_concat"]
