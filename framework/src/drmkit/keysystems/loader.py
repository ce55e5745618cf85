"""Discovery of installed key-system plugins (entry points of group ``drmkit.keysystems``)."""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass

from drmkit.errors import PluginLoadError, PluginNotInstalledError
from drmkit.sdk import ENTRY_POINT_GROUP


@dataclass(frozen=True, slots=True)
class PluginEntryPoint:
    """An installed entry point and the distribution that ships it."""

    name: str
    value: str
    distribution: str
    version: str
    entry_point: importlib.metadata.EntryPoint

    def load(self) -> object:
        """Import the plugin; :class:`PluginLoadError` names it and shows the exception."""
        try:
            return self.entry_point.load()
        except Exception as exc:
            raise PluginLoadError(
                f"key-system plugin {self.name!r} ({self.value}, from {self.distribution}"
                f" {self.version}) failed to import: {type(exc).__name__}: {exc}"
            ) from exc


def installed_entry_points() -> dict[str, PluginEntryPoint]:
    """Return every installed ``drmkit.keysystems`` entry point by name (first one wins)."""
    found: dict[str, PluginEntryPoint] = {}
    for dist in importlib.metadata.distributions():
        for ep in dist.entry_points:
            if ep.group != ENTRY_POINT_GROUP or ep.name in found:
                continue
            found[ep.name] = PluginEntryPoint(
                name=ep.name,
                value=ep.value,
                distribution=dist.metadata["Name"] or "?",
                version=dist.version or "?",
                entry_point=ep,
            )
    return found


def require_installed(name: str, installed: dict[str, PluginEntryPoint]) -> PluginEntryPoint:
    """Return entry point ``name``; :class:`PluginNotInstalledError` lists the installed ones."""
    found = installed.get(name)
    if found is None:
        names = ", ".join(sorted(installed)) or "none"
        raise PluginNotInstalledError(
            f"key-system plugin {name!r} is enabled (plugins.enabled) but not installed;"
            f" installed plugins: {names}"
        )
    return found
