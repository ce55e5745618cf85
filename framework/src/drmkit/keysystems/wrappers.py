"""Builds ``wrapper=True`` hook implementations that observe every routed hook call.

Cross-cutting plugins (metrics, logging) wrap every routed hook with the same observer. pluggy
matches implementations to hooks by name and passes arguments by parameter name, so one wrapper
function per hook is built here with the parameter the hook identifies its key system by. The
plugin manager wraps the hooks once for all its observers (:class:`ObservingPlugin`): each wrapper
costs pluggy a generator and a turn of its call loop on every CDM call.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Generator
from typing import Any, Protocol

from drmkit import hookspecs
from drmkit.errors import status_of
from drmkit.keysystems.routing import ROUTED_HOOKS
from drmkit.sdk import hookimpl


class CallObserver(Protocol):
    """Receives one observation per hook call."""

    def __call__(self, key_system: str, operation: str, outcome: str, seconds: float) -> None:
        """Record that ``operation`` of ``key_system`` ended with ``outcome`` after ``seconds``."""


def outcome_of(error: BaseException | None) -> str:
    """Return the outcome label of a call: ``ok`` or the status name in lower case."""
    return status_of(error).name.lower()


def _key_system_argument(hook: str) -> str:
    parameters = inspect.signature(getattr(hookspecs, hook)).parameters
    for candidate in ("session", "system", "key_system"):
        if candidate in parameters:
            return candidate
    raise TypeError(f"hook {hook} has no key-system argument")


def _make_wrapper(hook: str, observer: CallObserver) -> Callable[..., Any]:
    # One flat generator per call (no nested ``yield from``): this runs on every CDM call.
    operation = hook.removeprefix("drm_")
    argument = _key_system_argument(hook)
    clock = time.perf_counter
    if argument == "session":

        def on_session(session: Any) -> Generator[None, Any, Any]:
            start = clock()
            try:
                result = yield
            except BaseException as exc:
                observer(session.system.key_system, operation, outcome_of(exc), clock() - start)
                raise
            observer(session.system.key_system, operation, "ok", clock() - start)
            return result

        function: Callable[..., Any] = on_session
    elif argument == "system":

        def on_system(system: Any) -> Generator[None, Any, Any]:
            start = clock()
            try:
                result = yield
            except BaseException as exc:
                observer(system.key_system, operation, outcome_of(exc), clock() - start)
                raise
            observer(system.key_system, operation, "ok", clock() - start)
            return result

        function = on_system
    else:

        def on_key_system(key_system: str) -> Generator[None, Any, Any]:
            start = clock()
            try:
                result = yield
            except BaseException as exc:
                observer(key_system, operation, outcome_of(exc), clock() - start)
                raise
            observer(key_system, operation, "ok", clock() - start)
            return result

        function = on_key_system
    function.__name__ = hook
    return hookimpl(wrapper=True)(function)


def install_wrappers(plugin: object, observer: CallObserver) -> None:
    """Give ``plugin`` a ``wrapper=True`` implementation of every routed hook."""
    for hook in ROUTED_HOOKS:
        setattr(plugin, hook, _make_wrapper(hook, observer))


class ObservingPlugin:
    """One ``wrapper=True`` implementation per routed hook that notifies several observers."""

    def __init__(self, *observers: CallObserver) -> None:
        self.observers = observers
        install_wrappers(self, observers[0] if len(observers) == 1 else self._notify)

    def _notify(self, key_system: str, operation: str, outcome: str, seconds: float) -> None:
        for observer in self.observers:
            observer(key_system, operation, outcome, seconds)
