"""The pluggy names of drmkit's plugin contract: project, entry-point group, the hookimpl marker."""

from __future__ import annotations

import pluggy

PROJECT_NAME = "drmkit"
"""The pluggy project name; hook implementations carry the ``drmkit_impl`` marker."""

ENTRY_POINT_GROUP = "drmkit.keysystems"
"""Entry-point group key-system plugins are published under."""

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marker for hook implementations: ``@hookimpl`` or ``@hookimpl(wrapper=True)``."""
