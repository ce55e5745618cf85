"""Runs drmkit's conformance suite against the Clear Key plugin (the kit's own fixtures)."""

from __future__ import annotations

import pytest


@pytest.fixture
def drmkit_key_system(request: pytest.FixtureRequest) -> str:
    """Clear Key unless ``--drmkit-keysystem`` names another key system."""
    return str(request.config.getoption("--drmkit-keysystem") or "org.w3.clearkey")


@pytest.fixture(scope="session")
def drmkit_plugins() -> list[str]:
    """Enable only the Clear Key plugin (other installed plugins have their own runs)."""
    return ["clearkey"]
