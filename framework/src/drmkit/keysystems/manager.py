"""``DrmPluginManager``: loads the enabled plugins and builds one route per key system.

Start-up order: hook specs; blocked names (``plugins.disabled``); each enabled entry point (an
unknown name, an import failure or a registration failure is a clear :class:`ConfigurationError`);
the cross-cutting plugins (metrics, logging); ``check_pending``; then ``drm_key_systems`` of every
key-system plugin (two plugins claiming one key system is an error) and a route per key system.

Two kinds of pluggy manager, both used through pluggy's public API only: ``pm`` holds every plugin
(validation, blocking, the broadcast hooks, listings); each key-system plugin has a *hook manager*
of its own holding that plugin and the cross-cutting plugins, which its routes call
(:mod:`drmkit.keysystems.routing`). Register plugins through this class, never on ``pm``
directly: a cross-cutting plugin registered here joins every hook manager at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pluggy
from drmkit.config import PluginSettings
from drmkit.errors import (
    ConfigurationError,
    DuplicateKeySystemError,
    NotSupportedError,
    PluginLoadError,
)
from drmkit.keysystems.loader import PluginEntryPoint, installed_entry_points, require_installed
from drmkit.keysystems.logs import LoggingPlugin
from drmkit.keysystems.metrics import MetricsPlugin
from drmkit.keysystems.routing import KeySystemRoute, new_hook_manager
from drmkit.keysystems.wrappers import ObservingPlugin
from drmkit.sdk.model import KeySystemInfo
from drmkit.sdk.test_license import TestLicenseEndpoint
from prometheus_client import CollectorRegistry

log = logging.getLogger(__name__)


@dataclass(slots=True)
class InstalledPlugin:
    """One installed entry point of group ``drmkit.keysystems`` (for ``drmkit plugins``)."""

    name: str
    distribution: str
    version: str
    value: str
    enabled: bool = False
    blocked: bool = False
    key_systems: list[KeySystemInfo] = field(default_factory=list)
    error: str | None = None
    disabled_reason: str | None = None
    """Why the plugin is not enabled (e.g. ``blocked by plugins.disabled``)."""


class DrmPluginManager:
    """The typed facade over pluggy that the rest of drmkit uses (nothing else touches ``pm``)."""

    def __init__(
        self,
        settings: PluginSettings | None = None,
        registry: CollectorRegistry | None = None,
        *,
        load_entry_points: bool = True,
    ) -> None:
        self.settings = settings or PluginSettings()
        self.pm = new_hook_manager()
        self.registry = registry if registry is not None else CollectorRegistry()
        self._key_system_plugins: dict[str, object] = {}
        # Per key-system plugin: its own hook manager (that plugin + the cross-cutting ones).
        self._hook_managers: dict[str, pluggy.PluginManager] = {}
        self._cross_cutting: dict[str, object] = {}
        self._routes: dict[str, KeySystemRoute] = {}
        self._installed: dict[str, PluginEntryPoint] = {}
        for name in self.settings.disabled:
            self.pm.set_blocked(name)
        if self.settings.trace:
            self._trace(self.pm)
        if load_entry_points:
            self._load_enabled()
        self.metrics = MetricsPlugin(self.registry, wrap=False)
        logging_plugin = LoggingPlugin(wrap=False)
        self.register_plugin(self.metrics, "drmkit.metrics")
        self.register_plugin(logging_plugin, "drmkit.logging")
        # One wrapper per hook feeds both: half the wrapper cost on every routed call.
        self.register_plugin(
            ObservingPlugin(self.metrics.observe, logging_plugin.observe), "drmkit.observers"
        )
        self._check_pending()
        self.rebuild_routes()

    # -- loading -----------------------------------------------------------------------------

    def _load_enabled(self) -> None:
        self._installed = installed_entry_points()
        wanted = self.settings.enabled
        names = sorted(self._installed) if wanted is None else list(dict.fromkeys(wanted))
        for name in names:
            if self.pm.is_blocked(name):
                log.info("key-system plugin %r is enabled but blocked (plugins.disabled)", name)
                continue
            entry_point = require_installed(name, self._installed)
            self.add_key_system_plugin(entry_point.load(), name, rebuild=False)

    def add_key_system_plugin(self, plugin: object, name: str, *, rebuild: bool = True) -> None:
        """Register a key-system plugin object under ``name`` (entry points use this too).

        Tests register plugins directly with it; ``rebuild`` recomputes the routes at once.
        """
        self._register(self.pm, plugin, name, "key-system plugin")
        hooks = new_hook_manager()
        if self.settings.trace:
            self._trace(hooks)
        hooks.register(plugin, name=name)  # validated by the registration above
        for other_name, other in self._cross_cutting.items():
            hooks.register(other, name=other_name)
        self._key_system_plugins[name] = plugin
        self._hook_managers[name] = hooks
        if rebuild:
            self._check_pending()
            self.rebuild_routes()

    def remove_key_system_plugin(self, name: str) -> None:
        """Unregister a key-system plugin and drop its routes."""
        plugin = self._key_system_plugins.pop(name, None)
        self._hook_managers.pop(name, None)
        if plugin is not None:
            self.pm.unregister(plugin)
        self.rebuild_routes()

    def register_plugin(self, plugin: object, name: str) -> str:
        """Register a cross-cutting plugin (an observer, a fault injector) in every route.

        It joins the hook manager of every key-system plugin at once, so routes already handed to
        MediaKeys call it from their next call on; it is validated like any plugin
        (:class:`PluginLoadError`). Returns ``name``.
        """
        self._register(self.pm, plugin, name, "plugin")
        for hooks in self._hook_managers.values():
            hooks.register(plugin, name=name)
        self._cross_cutting[name] = plugin
        try:
            self._check_pending()
        except PluginLoadError:
            self.unregister_plugin(name)
            raise
        return name

    def unregister_plugin(self, name: str) -> object:
        """Unregister the cross-cutting plugin ``name`` from every route and return it."""
        plugin = self._cross_cutting.pop(name)
        for hooks in self._hook_managers.values():
            hooks.unregister(name=name)
        self.pm.unregister(name=name)
        return plugin

    @staticmethod
    def _register(pm: pluggy.PluginManager, plugin: object, name: str, what: str) -> None:
        try:
            registered = pm.register(plugin, name=name)
        except Exception as exc:
            raise PluginLoadError(
                f"{what} {name!r} could not be registered: {type(exc).__name__}: {exc}"
            ) from exc
        if registered is None:
            raise PluginLoadError(f"{what} {name!r} is blocked")

    @staticmethod
    def _trace(pm: pluggy.PluginManager) -> None:
        pm.trace.root.setwriter(log.debug)
        pm.enable_tracing()

    def _check_pending(self) -> None:
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginLoadError(f"plugin {exc.plugin!r} has an invalid hook: {exc}") from exc

    def rebuild_routes(self) -> None:
        """Ask every key-system plugin for its key systems and build one route per key system."""
        claimed: dict[str, tuple[str, KeySystemInfo]] = {}
        for name in self._key_system_plugins:
            for info in self._declared_by(name):
                if info.key_system in claimed:
                    other = claimed[info.key_system][0]
                    raise DuplicateKeySystemError(
                        f"key system {info.key_system!r} is claimed by two enabled plugins:"
                        f" {other!r} and {name!r}; block one (plugins.disabled)"
                    )
                claimed[info.key_system] = (name, info)
        self._routes = {
            key_system: KeySystemRoute(self._hook_managers[name], info, name)
            for key_system, (name, info) in claimed.items()
        }

    def _declared_by(self, name: str) -> list[KeySystemInfo]:
        # Asked through the plugin's own hook manager: no other key-system plugin answers.
        hooks = self._hook_managers[name]
        try:
            declared = [info for result in hooks.hook.drm_key_systems() for info in (result or [])]
        except Exception as exc:
            raise PluginLoadError(
                f"key-system plugin {name!r} failed in drm_key_systems: {type(exc).__name__}: {exc}"
            ) from exc
        for info in declared:
            if not isinstance(info, KeySystemInfo):
                raise PluginLoadError(
                    f"key-system plugin {name!r} declared {info!r}, not a KeySystemInfo"
                )
        return declared

    # -- queries -----------------------------------------------------------------------------

    def key_systems(self) -> list[str]:
        """Return the key systems served by enabled plugins."""
        return list(self._routes)

    def key_system_infos(self) -> list[KeySystemInfo]:
        """Return the declarations of every served key system."""
        return [route.info for route in self._routes.values()]

    def find_route(self, key_system: str) -> KeySystemRoute | None:
        """Return the route of ``key_system`` or ``None``."""
        return self._routes.get(key_system)

    def route(self, key_system: str) -> KeySystemRoute:
        """Return the route of ``key_system``; ``NotSupportedError`` lists the served ones."""
        route = self._routes.get(key_system) if isinstance(key_system, str) else None
        if route is None:
            served = ", ".join(sorted(self._routes)) or "none"
            raise NotSupportedError(
                f"no enabled plugin serves key system {key_system!r} (served: {served})"
            )
        return route

    @property
    def key_system_plugin_names(self) -> list[str]:
        """Names of the registered key-system plugins."""
        return list(self._key_system_plugins)

    def describe_init_data(self, system_id: bytes, data: bytes) -> dict[str, Any] | None:
        """Ask the plugins to decode PSSH data of ``system_id`` (``None`` if none knows it)."""
        try:
            result = self.pm.hook.drm_describe_init_data(system_id=system_id, data=data)
        except Exception as exc:  # a decoder must not break inspect
            return {"error": f"{type(exc).__name__}: {exc}"}
        return result if isinstance(result, dict) else None

    def test_license_endpoints(self) -> list[TestLicenseEndpoint]:
        """Collect the test-license routes every key-system plugin declares, ordered by path.

        :raises PluginLoadError: a plugin fails in ``drm_test_license_endpoints``, declares
            something that is not a ``TestLicenseEndpoint``, or claims a path another plugin
            claimed.
        """
        claimed: dict[str, tuple[str, TestLicenseEndpoint]] = {}
        for name in self._key_system_plugins:
            others = [p for n, p in self._key_system_plugins.items() if n != name]
            caller = self.pm.subset_hook_caller("drm_test_license_endpoints", remove_plugins=others)
            try:
                declared = [e for result in caller() for e in (result or [])]
            except Exception as exc:
                raise PluginLoadError(
                    f"key-system plugin {name!r} failed in drm_test_license_endpoints:"
                    f" {type(exc).__name__}: {exc}"
                ) from exc
            for endpoint in declared:
                if not isinstance(endpoint, TestLicenseEndpoint):
                    raise PluginLoadError(
                        f"key-system plugin {name!r} declared {endpoint!r},"
                        " not a TestLicenseEndpoint"
                    )
                if endpoint.path in claimed:
                    raise PluginLoadError(
                        f"test-license path {endpoint.path} is claimed by two plugins:"
                        f" {claimed[endpoint.path][0]!r}, {name!r}"
                    )
                claimed[endpoint.path] = (name, endpoint)
        return [endpoint for _, (_, endpoint) in sorted(claimed.items())]

    def license_helper(self, key_system: str) -> Any:
        """Return the license helper of ``key_system`` (``InterfaceNotImplementedError``: none)."""
        return self.route(key_system).call("drm_license_helper", key_system=key_system)

    def installed(self) -> list[InstalledPlugin]:
        """Every installed plugin, whether enabled, blocked, and the key systems it serves."""
        installed = self._installed or installed_entry_points()
        enabled = set(self._key_system_plugins)
        by_plugin: dict[str, list[KeySystemInfo]] = {}
        for route in self._routes.values():
            by_plugin.setdefault(route.plugin_name, []).append(route.info)
        rows = [
            InstalledPlugin(
                name=ep.name,
                distribution=ep.distribution,
                version=ep.version,
                value=ep.value,
                enabled=ep.name in enabled,
                blocked=self.pm.is_blocked(ep.name),
                key_systems=by_plugin.get(ep.name, []),
                disabled_reason=None
                if ep.name in enabled
                else self.settings.disabled_reason(ep.name) or "not loaded",
            )
            for ep in installed.values()
        ]
        for name in enabled - set(installed):
            rows.append(
                InstalledPlugin(
                    name=name,
                    distribution="(registered directly)",
                    version="",
                    value=repr(self._key_system_plugins[name]),
                    enabled=True,
                    key_systems=by_plugin.get(name, []),
                )
            )
        return sorted(rows, key=lambda row: row.name)


def build_plugin_manager(
    settings: PluginSettings, registry: CollectorRegistry | None = None
) -> DrmPluginManager:
    """Build the plugin manager for ``settings`` (the container's provider)."""
    return DrmPluginManager(settings, registry)


def build_installed_plugin_manager(
    settings: PluginSettings, registry: CollectorRegistry | None = None
) -> DrmPluginManager:
    """Build a plugin manager over every installed plugin that ``plugins.disabled`` does not block.

    For what plugins contribute whether or not ``plugins.enabled`` names them, as ``drmkit
    inspect`` describes init data with every installed plugin: the license server's test-license
    endpoints. Start-up errors are the usual ones (a plugin that fails to import is named; block
    it with ``plugins.disabled``).
    """
    return DrmPluginManager(settings.model_copy(update={"enabled": None}), registry)


def probe_key_systems(entry_point: PluginEntryPoint) -> tuple[list[KeySystemInfo], str | None]:
    """Load one plugin on its own and return its declared key systems, or the error."""
    try:
        probe = DrmPluginManager(PluginSettings(enabled=[]), CollectorRegistry())
        probe.add_key_system_plugin(entry_point.load(), entry_point.name)
    except ConfigurationError as exc:
        return [], str(exc)
    return probe.key_system_infos(), None


def describe_installed(
    settings: PluginSettings, registry: CollectorRegistry | None = None
) -> tuple[list[InstalledPlugin], str | None]:
    """List installed plugins even when loading fails; the second item is the start-up error.

    Plugins that are installed but not enabled are loaded on their own to show their key
    systems; one that fails carries its error in ``InstalledPlugin.error``.
    """
    error: str | None = None
    try:
        rows = DrmPluginManager(settings, registry).installed()
    except ConfigurationError as exc:
        error = str(exc)
        rows = [
            InstalledPlugin(
                name=ep.name,
                distribution=ep.distribution,
                version=ep.version,
                value=ep.value,
                enabled=settings.enables(ep.name),
                blocked=ep.name in settings.disabled,
                disabled_reason=settings.disabled_reason(ep.name),
            )
            for ep in installed_entry_points().values()
        ]
    entry_points = installed_entry_points()
    for row in rows:
        entry_point = entry_points.get(row.name)
        if row.key_systems or row.blocked or entry_point is None:
            continue
        row.key_systems, row.error = probe_key_systems(entry_point)
    return sorted(rows, key=lambda row: row.name), error
