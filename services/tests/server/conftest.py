"""Fixtures of the session server tests: they run on Clear Key alone."""

from __future__ import annotations

import pytest


@pytest.fixture
def drmkit_key_system() -> str:
    """The session server's tests run on Clear Key."""
    return "org.w3.clearkey"


@pytest.fixture(scope="session")
def drmkit_plugins() -> list[str]:
    """Enable only the Clear Key plugin (other installed plugins have their own runs)."""
    return ["clearkey"]
