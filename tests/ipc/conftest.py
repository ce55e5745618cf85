"""Cross-package IPC tests: the conformance suite through drmkit.client against drmkit serve."""

from __future__ import annotations

import pytest


@pytest.fixture
def drmkit_key_system(request: pytest.FixtureRequest) -> str:
    """Clear Key unless ``--drmkit-keysystem`` names another key system."""
    return str(request.config.getoption("--drmkit-keysystem") or "org.w3.clearkey")


@pytest.fixture
def drmkit_transport() -> str:
    """Always through the client and a real session server process."""
    return "ipc"
