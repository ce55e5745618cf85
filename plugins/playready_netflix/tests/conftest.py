"""Fixtures of the PlayReady/Netflix plugin's tests: the conformance kit's, aimed at Netflix."""

from __future__ import annotations

from pathlib import Path

import pytest

NETFLIX = "com.netflix.playready"
PLAYREADY = "com.microsoft.playready"
REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def drmkit_key_system() -> str:
    """Netflix unless a module overrides it, whatever ``--drmkit-keysystem`` says."""
    return NETFLIX


@pytest.fixture(scope="session")
def drmkit_plugins() -> list[str]:
    """This distribution's two plugins, and Clear Key to show that other key systems never reach
    ext calls."""
    return ["clearkey", "playready", "netflix"]
