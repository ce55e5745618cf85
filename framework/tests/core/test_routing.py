"""Routes on pluggy's public API: a hook manager per key-system plugin, argument checks, tracing."""

from __future__ import annotations

import logging
import re
from collections.abc import Generator
from pathlib import Path
from typing import Any

import drmkit
import pluggy
import pytest
from drmkit.config import PluginSettings
from drmkit.errors import FailError, PluginLoadError
from drmkit.keysystems.manager import DrmPluginManager
from drmkit.sdk import hookimpl

from .test_plugin_manager import FakeKeySystem, FakeSession

CROSS_CUTTING = ["drmkit.metrics", "drmkit.logging", "drmkit.observers"]


@pytest.fixture
def manager() -> DrmPluginManager:
    manager = DrmPluginManager(PluginSettings(enabled=[]))
    manager.add_key_system_plugin(FakeKeySystem("com.example.first", holds_keys=False), "first")
    manager.add_key_system_plugin(FakeKeySystem("com.example.second", holds_keys=True), "second")
    return manager


def test_each_key_system_plugin_has_a_hook_manager_of_its_own(manager: DrmPluginManager) -> None:
    first, second = manager.route("com.example.first"), manager.route("com.example.second")
    assert first.hooks is not second.hooks
    assert [name for name, _ in first.hooks.list_name_plugin()] == ["first", *CROSS_CUTTING]
    assert [name for name, _ in second.hooks.list_name_plugin()] == ["second", *CROSS_CUTTING]
    # The manager's own pluggy manager holds everything (validation, broadcast hooks, listing).
    names = {name for name, _ in manager.pm.list_name_plugin()}
    assert names == {"first", "second", *CROSS_CUTTING}
    assert first.implemented_hooks == {
        "drm_contains_key",
        "drm_get_last_drm_error",
        "drm_update_session",
    }
    assert first.implementation("drm_contains_key").plugin is first.plugin


def test_a_key_system_plugin_added_later_stays_out_of_existing_routes(
    manager: DrmPluginManager,
) -> None:
    """A route built before another key-system plugin arrives never calls that plugin."""
    route = manager.route("com.example.first")
    third = FakeKeySystem("com.example.third", holds_keys=True)
    manager.add_key_system_plugin(third, "third")
    assert route.call("drm_contains_key", session=FakeSession(), key_id=b"k") is False
    assert third.calls == []


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"session": FakeSession(), "keyid": b"k"}, "unexpected argument(s) 'keyid'; missing"),
        ({"session": FakeSession()}, "drm_contains_key(session, key_id): missing argument(s)"),
        ({"session": FakeSession(), "key_id": b"k", "extra": 1}, "unexpected argument(s) 'extra'"),
    ],
)
def test_a_wrong_hook_argument_is_a_type_error_of_drmkit_not_a_plugin_failure(
    manager: DrmPluginManager, kwargs: dict[str, Any], problem: str
) -> None:
    route = manager.route("com.example.first")
    plugin = route.plugin
    assert isinstance(plugin, FakeKeySystem)
    with pytest.raises(TypeError) as caught:
        route.call("drm_contains_key", **kwargs)
    assert not isinstance(caught.value, FailError)
    assert problem in str(caught.value)
    assert plugin.calls == []  # refused before any plugin ran


def test_an_unknown_hook_name_is_drmkits_bug(manager: DrmPluginManager) -> None:
    with pytest.raises(ValueError, match="'drm_contain_key' is not a routed hook"):
        manager.route("com.example.first").call("drm_contain_key", session=FakeSession())


class _PluggyFault:
    """A wrapper in which pluggy's call machinery fails (as on a hook-call programming error)."""

    @hookimpl(wrapper=True)
    def drm_contains_key(self, session: Any) -> Generator[None, Any, Any]:
        raise pluggy.HookCallError("hook call must provide argument 'key_id'")
        yield  # pragma: no cover - a generator that fails before it yields


def test_pluggy_call_errors_surface_as_such(manager: DrmPluginManager) -> None:
    manager.register_plugin(_PluggyFault(), "test.fault")
    route = manager.route("com.example.first")
    with pytest.raises(pluggy.HookCallError, match="must provide argument"):
        route.call("drm_contains_key", session=FakeSession(), key_id=b"k")
    manager.unregister_plugin("test.fault")
    assert route.call("drm_contains_key", session=FakeSession(), key_id=b"k") is False


def test_a_cross_cutting_plugin_with_an_unknown_hook_is_refused_and_rolled_back(
    manager: DrmPluginManager,
) -> None:
    class Odd:
        @hookimpl
        def drm_no_such_hook(self, session: Any) -> None:
            pass

    with pytest.raises(PluginLoadError, match="drm_no_such_hook"):
        manager.register_plugin(Odd(), "test.odd")
    assert "test.odd" not in dict(manager.pm.list_name_plugin())
    assert "test.odd" not in dict(manager.route("com.example.first").hooks.list_name_plugin())


def test_trace_covers_routed_calls(caplog: pytest.LogCaptureFixture) -> None:
    manager = DrmPluginManager(PluginSettings(enabled=[], trace=True))
    manager.add_key_system_plugin(FakeKeySystem("com.example.first", holds_keys=True), "first")
    with caplog.at_level(logging.DEBUG, logger="drmkit.keysystems.manager"):
        manager.route("com.example.first").call(
            "drm_contains_key", session=FakeSession(), key_id=b"k"
        )
    assert any("drm_contains_key" in record.getMessage() for record in caplog.records)


def test_drmkit_uses_no_private_pluggy_api() -> None:
    """drmkit relies on pluggy's public API only (names pluggy keeps private never appear)."""
    private = re.compile(
        r"\._(hookimpls|hookexec|inner_hookexec|orig|remove_plugins|call_history|name2plugin"
        r"|plugin_distinfo)\b|_SubsetHookCaller|_multicall|pluggy\._"
    )
    portions = [Path(portion) for portion in drmkit.__path__]  # the core and the services
    assert len(portions) >= 2
    offenders = [
        f"{path}:{number}"
        for portion in portions
        for path in sorted(portion.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if private.search(line)
    ]
    assert offenders == []
