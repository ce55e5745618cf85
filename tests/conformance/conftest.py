"""Runs drmkit's conformance suite against the Clear Key plugin (the kit's own fixtures)."""

from __future__ import annotations

import pytest


@pytest.fixture
def drmkit_key_system(request: pytest.FixtureRequest) -> str:
    """Clear Key unless ``--drmkit-keysystem`` names another key system."""
    return str(request.config.getoption("--drmkit-keysystem") or "org.w3.clearkey")
