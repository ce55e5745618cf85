"""Fixtures of the Widevine plugin's tests: the conformance kit aimed at com.widevine.alpha."""

from __future__ import annotations

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
