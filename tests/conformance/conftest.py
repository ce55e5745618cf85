"""Runs drmkit's conformance suite against the Clear Key plugin (the kit's own fixtures)."""

from __future__ import annotations

import pytest


@pytest.fixture
def drmkit_key_system(request: pytest.FixtureRequest) -> str:
    """Clear Key unless ``--drmkit-keysystem`` names another key system."""
    return str(request.config.getoption("--drmkit-keysystem") or "org.w3.clearkey")


@pytest.fixture(scope="session")
def drmkit_plugins(request: pytest.FixtureRequest) -> list[str]:
    """Enable only the Clear Key plugin (other installed plugins have their own runs).

    A tox environment that aims the suite at another key system (``--drmkit-keysystem``) gets
    ``--drmkit-plugins`` or every installed plugin, as the kit does by default.
    """
    option = request.config.getoption("--drmkit-plugins")
    if option:
        return [name.strip() for name in str(option).split(",") if name.strip()]
    key_system = request.config.getoption("--drmkit-keysystem")
    if key_system and key_system != "org.w3.clearkey":
        from drmkit.keysystems.loader import installed_entry_points

        return sorted(installed_entry_points())
    return ["clearkey"]
