"""Fixtures of the Widevine plugin's tests: the conformance kit aimed at com.widevine.alpha."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

KEY_SYSTEM = "com.widevine.alpha"
REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def drmkit_key_system() -> str:
    """The plugin's tests are about Widevine whatever ``--drmkit-keysystem`` says."""
    return KEY_SYSTEM


@pytest.fixture(scope="session")
def drmkit_plugins() -> list[str]:
    """Enable only this plugin."""
    return ["widevine"]


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """The shared test vectors (``../shared/vectors`` next to the repository; env override)."""
    path = Path(os.environ.get("DRMKIT_VECTORS_DIR") or REPO_ROOT.parent / "shared" / "vectors")
    if not path.is_dir():
        pytest.skip(f"test vectors not found at {path} (set DRMKIT_VECTORS_DIR)")
    return path
