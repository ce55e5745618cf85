"""The test vectors: real encrypted media with known keys and oracles, and real init data.

They live in the repository (``testdata/vectors``, with ``PROVENANCE.md`` saying where each file
comes from, its licence and how it was made); ``DRMKIT_VECTORS_DIR`` points elsewhere. This module
is the one place that knows where: tests ask :func:`vectors_dir` (or the kit's
``drmkit_vectors_dir`` fixture) and **fail** when the data is missing, never skip.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drmkit.errors import DrmkitError

ENV_VAR = "DRMKIT_VECTORS_DIR"
"""Environment variable naming another vectors directory."""

REPOSITORY_VECTORS = Path(__file__).resolve().parents[4] / "testdata" / "vectors"
"""The repository's copy (found from this file in a source checkout)."""


class VectorsMissingError(DrmkitError, FileNotFoundError):
    """The test vectors are not where they should be."""


def vectors_dir() -> Path:
    """Return the vectors directory: ``$DRMKIT_VECTORS_DIR``, else the repository's copy.

    Raises:
        VectorsMissingError: the directory does not exist.

    """
    override = os.environ.get(ENV_VAR)
    chosen = Path(override) if override else REPOSITORY_VECTORS
    if not chosen.is_dir():
        raise VectorsMissingError(
            f"the test vectors are missing: {chosen} is not a directory"
            f" ({ENV_VAR} overrides the repository's testdata/vectors)"
        )
    return chosen


@dataclass(frozen=True)
class Vector:
    """One encrypted vector: its files (concatenated in order), oracle and key table."""

    name: str
    files: tuple[str, ...]
    keys_file: str

    def paths(self) -> list[Path]:
        """Return the vector's files."""
        return [vectors_dir() / f for f in self.files]

    def read(self) -> bytearray:
        """Return the vector's files concatenated."""
        return bytearray(b"".join(p.read_bytes() for p in self.paths()))

    def oracle(self) -> dict[str, Any]:
        """Return the expected decrypted samples (``oracles/<name>.json``)."""
        document: dict[str, Any] = json.loads(
            (vectors_dir() / "oracles" / f"{self.name}.json").read_text()
        )
        return document

    def key_table(self) -> dict[str, Any]:
        """Return the vector's ``keys.json``."""
        document: dict[str, Any] = json.loads((vectors_dir() / self.keys_file).read_text())
        return document

    def key_map(self) -> dict[bytes, bytes]:
        """Return key id → key."""
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
"""Every encrypted vector."""

CLEAR_VECTORS = {
    "spe_clear_low": "spe/clear_low.mp4",
    "generated_clear_testsrc": "generated/clear_testsrc.mp4",
}
"""The plaintext references."""


def initdata_samples() -> list[dict[str, Any]]:
    """Return the real init data samples (``initdata/initdata_samples.json``)."""
    samples: list[dict[str, Any]] = json.loads(
        (vectors_dir() / "initdata" / "initdata_samples.json").read_text()
    )
    return samples
