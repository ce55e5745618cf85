"""The Clear Key plugin's tests run the kit's fixtures on org.w3.clearkey."""

from __future__ import annotations

import pytest


@pytest.fixture
def drmkit_key_system() -> str:
    """The key system under test."""
    return "org.w3.clearkey"


@pytest.fixture(scope="session")
def drmkit_plugins() -> list[str]:
    """Only this plugin."""
    return ["clearkey"]
