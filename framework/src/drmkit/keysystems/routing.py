"""Per-key-system hook callers, built once at start-up.

A :class:`KeySystemRoute` holds, for each routed hook, a pluggy ``subset_hook_caller`` that contains
only the plugin which declared the key system plus the cross-cutting plugins (metrics, logging). A
broadcast ``firstresult`` call would misroute whenever the right plugin legitimately returns
``None``; a subset caller cannot.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

import pluggy
from drmkit import hookspecs
from drmkit.errors import DrmError, FailError, InterfaceNotImplementedError
from drmkit.keysystems.errors import translate_exception
from drmkit.sdk.model import KeySystemCapabilities, KeySystemInfo

DECLARATION_HOOKS = frozenset(
    {"drm_key_systems", "drm_describe_init_data", "drm_test_license_endpoints"}
)
"""Hooks that are not routed per key system."""


def hook_names() -> list[str]:
    """Return every hook name defined in ``drmkit.hookspecs``, in definition order."""
    return [
        name
        for name, value in vars(hookspecs).items()
        if name.startswith("drm_") and inspect.isfunction(value)
    ]


ROUTED_HOOKS: tuple[str, ...] = tuple(n for n in hook_names() if n not in DECLARATION_HOOKS)
"""Hooks called through a key system's route."""


def is_firstresult(name: str) -> bool:
    """Tell whether hook ``name`` is declared ``firstresult``."""
    opts = getattr(getattr(hookspecs, name), "drmkit_spec", {}) or {}
    return bool(opts.get("firstresult"))


class _HookPlan:
    """Calls one routed hook through pluggy's executor with its implementations cached.

    pluggy's ``HookCaller.__call__`` re-filters a subset caller's implementations, copies them and
    re-checks the arguments on every call; routed hooks run on every CDM operation (every sample
    decrypt), so the filtered list is cached here and refreshed whenever the registrations change
    (the caller's underlying implementation list then differs from the one last seen). Falls back
    to the plain call should pluggy's internals ever change shape.
    """

    __slots__ = ("_cache", "_defaults", "_execute", "_source", "caller", "firstresult", "name")

    def __init__(self, caller: Any, firstresult: bool) -> None:
        self.caller = caller
        self.name: str = caller.name
        self.firstresult = firstresult
        spec = caller.spec
        defaults = getattr(spec, "kwargdefaults", None) if spec is not None else None
        self._defaults: dict[str, object] | None = dict(defaults) if defaults else None
        # A subset caller reads its original caller's list; with nothing to remove, pluggy hands
        # out the original caller itself.
        original = getattr(caller, "_orig", caller)
        self._source: list[Any] | None = getattr(original, "_hookimpls", None)
        self._execute: Any = getattr(caller, "_hookexec", None)
        # (the implementation list last seen, the subset called): replaced whole, so that a
        # worker thread never pairs a new registration snapshot with an old subset.
        self._cache: tuple[list[Any], list[Any]] | None = None

    def __call__(self, kwargs: dict[str, Any]) -> Any:
        source, execute = self._source, self._execute
        if source is None or execute is None:
            return self.caller(**kwargs)
        cache = self._cache
        if cache is None or cache[0] != source:  # identity-wise compare of a few items
            cache = (list(source), self.caller.get_hookimpls())
            self._cache = cache
        if self._defaults:
            kwargs = {**self._defaults, **kwargs}
        return execute(self.name, cache[1], kwargs, self.firstresult)


class KeySystemRoute:
    """Calls the hooks of one key system's plugin (with the cross-cutting wrappers)."""

    __slots__ = ("_callers", "_firstresult", "_implemented", "_plans", "info", "plugin_name")

    def __init__(
        self,
        pm: pluggy.PluginManager,
        info: KeySystemInfo,
        plugin_name: str,
        other_key_system_plugins: Iterable[object],
    ) -> None:
        self.info = info
        self.plugin_name = plugin_name
        remove = list(other_key_system_plugins)
        owner = pm.get_plugin(plugin_name)
        self._callers: dict[str, Any] = {}
        self._implemented: set[str] = set()
        self._firstresult: set[str] = set()
        self._plans: dict[str, _HookPlan] = {}
        for name in ROUTED_HOOKS:
            caller = pm.subset_hook_caller(name, remove_plugins=remove)
            self._callers[name] = caller
            if any(impl.plugin is owner for impl in caller.get_hookimpls()):
                self._implemented.add(name)
            if is_firstresult(name):
                self._firstresult.add(name)
            self._plans[name] = _HookPlan(caller, name in self._firstresult)

    @property
    def key_system(self) -> str:
        """The routed key system."""
        return self.info.key_system

    @property
    def capabilities(self) -> KeySystemCapabilities:
        """The declared capabilities."""
        return self.info.capabilities

    def implements(self, hook: str) -> bool:
        """Tell whether the key system's plugin implements ``hook``."""
        return hook in self._implemented

    @property
    def implemented_hooks(self) -> frozenset[str]:
        """The routed hooks the key system's plugin implements."""
        return frozenset(self._implemented)

    def call(self, hook: str, **kwargs: Any) -> Any:
        """Call ``hook`` for this key system; errors come back as typed ``DrmError`` s.

        An unimplemented hook, or a firstresult hook that answers ``None``, raises
        ``InterfaceNotImplementedError``.
        """
        if hook not in self._implemented:
            raise InterfaceNotImplementedError(
                f"{self.info.key_system} ({self.plugin_name}) does not implement {hook}"
            )
        plan = self._plans[hook]
        try:
            result = plan(kwargs)
        except DrmError:
            raise
        except Exception as exc:
            raise translate_exception(exc, f"{self.plugin_name}.{hook}") from exc
        if plan.firstresult:
            if result is None:
                raise InterfaceNotImplementedError(
                    f"{self.info.key_system} ({self.plugin_name}) gave no answer to {hook}"
                )
            return result
        return None

    def call_direct(self, hook: str, **kwargs: Any) -> Any:
        """Call the plugin's implementation without wrappers (benchmarks compare the two)."""
        impls = [i for i in self._callers[hook].get_hookimpls() if not i.wrapper]
        if not impls:
            raise FailError(f"no implementation of {hook}")
        return impls[-1].function(**{a: kwargs[a] for a in impls[-1].argnames})


def route_table(routes: Mapping[str, KeySystemRoute]) -> dict[str, str]:
    """Return ``{key_system: plugin_name}`` for display."""
    return {ks: route.plugin_name for ks, route in routes.items()}
