"""Per-key-system routes over pluggy's public API.

Each key-system plugin gets a ``pluggy.PluginManager`` of its own (its *hook manager*) that holds
that plugin and the cross-cutting plugins (metrics, logging, whatever is registered at run time),
and never another key-system plugin. A :class:`KeySystemRoute` calls a hook as
``hooks.hook.drm_xxx(**kwargs)`` on its plugin's hook manager, so pluggy's call path, argument
handling and wrappers apply unchanged, and a plugin that legitimately answers ``None`` cannot be
overtaken by another key system's plugin (which a broadcast ``firstresult`` call would allow).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import pluggy
from drmkit import hookspecs
from drmkit.errors import DrmError, FailError, InterfaceNotImplementedError
from drmkit.keysystems.errors import translate_exception
from drmkit.sdk import PROJECT_NAME
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


def hook_arguments(name: str) -> tuple[str, ...]:
    """Return the argument names of hook ``name``, in the order of its specification."""
    return tuple(inspect.signature(getattr(hookspecs, name)).parameters)


def new_hook_manager() -> pluggy.PluginManager:
    """Return an empty pluggy manager of project ``drmkit`` with drmkit's hook specifications."""
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    return manager


_FIRSTRESULT = frozenset(name for name in ROUTED_HOOKS if is_firstresult(name))
_ARGUMENTS = {name: frozenset(hook_arguments(name)) for name in ROUTED_HOOKS}


class KeySystemRoute:
    """Calls the hooks of one key system: its plugin's hook manager, with the observers.

    The hook manager is shared by the routes of every key system one plugin declares, and the
    plugin manager registers cross-cutting plugins in it at run time: a route always calls the
    plugins registered now, including for MediaKeys created before the registration.
    """

    __slots__ = ("_callers", "_implemented", "_plans", "hooks", "info", "plugin", "plugin_name")

    def __init__(self, hooks: pluggy.PluginManager, info: KeySystemInfo, plugin_name: str) -> None:
        """Route ``info``'s key system to plugin ``plugin_name`` registered in ``hooks``."""
        plugin = hooks.get_plugin(plugin_name)
        if plugin is None:
            raise ValueError(f"plugin {plugin_name!r} is not registered in the hook manager")
        self.hooks = hooks
        self.info = info
        self.plugin: object = plugin
        self.plugin_name = plugin_name
        self._callers: dict[str, pluggy.HookCaller] = {
            name: getattr(hooks.hook, name) for name in ROUTED_HOOKS
        }
        # Computed once: what the key system's own plugin implements (cross-cutting plugins
        # registered later wrap these calls; they do not make a hook "implemented").
        owned = {caller.name for caller in hooks.get_hookcallers(plugin) or ()}
        self._implemented = frozenset(owned.intersection(ROUTED_HOOKS))
        # What a call needs, found with one lookup (routed calls run on every CDM operation):
        # the caller, the argument names of the specification, whether it is firstresult.
        self._plans: dict[str, tuple[pluggy.HookCaller, frozenset[str], bool]] = {
            name: (self._callers[name], _ARGUMENTS[name], name in _FIRSTRESULT)
            for name in self._implemented
        }

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
        return self._implemented

    def hook_caller(self, hook: str) -> pluggy.HookCaller:
        """Return pluggy's caller of routed hook ``hook`` (every implementation it calls)."""
        caller = self._callers.get(hook)
        if caller is None:
            raise ValueError(f"{hook!r} is not a routed hook")
        return caller

    def call(self, hook: str, **kwargs: Any) -> Any:
        """Call ``hook`` for this key system; errors come back as typed ``DrmError`` s.

        An unimplemented hook, or a firstresult hook that answers ``None``, raises
        ``InterfaceNotImplementedError``. Arguments that do not match the hook's specification
        (misspelt, missing or extra) raise ``TypeError`` before any plugin runs: a bug of the
        caller in drmkit, never blamed on the plugin; so are pluggy's own call errors
        (``pluggy.HookCallError``), which pass through untranslated.
        """
        plan = self._plans.get(hook)
        if plan is None:
            self.hook_caller(hook)  # an unknown hook name is drmkit's bug: ValueError
            raise InterfaceNotImplementedError(
                f"{self.info.key_system} ({self.plugin_name}) does not implement {hook}"
            )
        caller, arguments, firstresult = plan
        if kwargs.keys() != arguments:
            raise _argument_error(hook, kwargs)
        try:
            result = caller(**kwargs)
        except (DrmError, pluggy.HookCallError):
            raise
        except Exception as exc:
            raise translate_exception(exc, f"{self.plugin_name}.{hook}") from exc
        if firstresult:
            if result is None:
                raise InterfaceNotImplementedError(
                    f"{self.info.key_system} ({self.plugin_name}) gave no answer to {hook}"
                )
            return result
        return None

    def implementation(self, hook: str) -> pluggy.HookImpl:
        """Return the key system's plugin's own implementation of ``hook`` (no wrappers)."""
        for impl in self.hook_caller(hook).get_hookimpls():
            if impl.plugin is self.plugin and not impl.wrapper:
                return impl
        raise FailError(f"no implementation of {hook}")


def _argument_error(hook: str, kwargs: Mapping[str, Any]) -> TypeError:
    expected = hook_arguments(hook)
    missing = [name for name in expected if name not in kwargs]
    unexpected = [name for name in kwargs if name not in expected]
    problems = []
    if unexpected:
        problems.append(f"unexpected argument(s) {', '.join(map(repr, unexpected))}")
    if missing:
        problems.append(f"missing argument(s) {', '.join(map(repr, missing))}")
    return TypeError(f"{hook}({', '.join(expected)}): {'; '.join(problems)}")
