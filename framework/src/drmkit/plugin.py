"""The public API for key-system plugin authors.

A plugin is a module or object with functions named after the hooks in ``drmkit.hookspecs``,
decorated with :data:`hookimpl`, published through an entry point in group ``drmkit.keysystems``::

    [project.entry-points."drmkit.keysystems"]
    clearkey = "drmkit_clearkey.plugin:plugin"

Plugins that drive an OpenCDM library subclass :class:`drmkit.ocdm.OcdmKeySystemPlugin`, which
implements every hook with the generic OCDM call sequence, and override only what differs.
``docs/plugin-guide.md`` walks through writing and testing a plugin.
"""

from __future__ import annotations

import pluggy

from drmkit.plugins.model import (
    KeySystemCapabilities,
    KeySystemInfo,
    LicenseHelper,
    SessionContext,
    SystemContext,
    adapt_capabilities,
)

PROJECT_NAME = "drmkit"
"""The pluggy project name; hook implementations carry the ``drmkit_impl`` marker."""

ENTRY_POINT_GROUP = "drmkit.keysystems"
"""Entry-point group key-system plugins are published under."""

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marker for hook implementations: ``@hookimpl`` or ``@hookimpl(wrapper=True)``."""

__all__ = [
    "ENTRY_POINT_GROUP",
    "PROJECT_NAME",
    "KeySystemCapabilities",
    "KeySystemInfo",
    "LicenseHelper",
    "SessionContext",
    "SystemContext",
    "adapt_capabilities",
    "hookimpl",
]
