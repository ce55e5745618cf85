"""Plugin discovery, enabling, start-up errors and per-key-system routing."""

from __future__ import annotations

from typing import Any

import drmkit_hal
import pytest
from drmkit.config import PluginSettings
from drmkit.errors import (
    DuplicateKeySystemError,
    FailError,
    InterfaceNotImplementedError,
    InvalidInputError,
    InvalidLicenseError,
    NotSupportedError,
    PluginLoadError,
    PluginNotInstalledError,
)
from drmkit.keysystems.manager import (
    DrmPluginManager,
    build_installed_plugin_manager,
    describe_installed,
)
from drmkit.sdk import KeySystemCapabilities, KeySystemInfo, hookimpl

from .conftest import MakeDist

DUPLICATE_CLEARKEY = """
from drmkit.sdk import KeySystemCapabilities, KeySystemInfo, hookimpl

@hookimpl
def drm_key_systems():
    return [KeySystemInfo("org.w3.clearkey", KeySystemCapabilities(frozenset({"keyids"})))]
"""


def test_default_settings_enable_every_installed_plugin() -> None:
    manager = DrmPluginManager(PluginSettings())
    assert set(manager.key_systems()) == {
        "org.w3.clearkey",
        "com.widevine.alpha",
        "com.microsoft.playready",
        "com.netflix.playready",
    }
    route = manager.route("org.w3.clearkey")
    assert route.plugin_name == "clearkey"
    assert route.implements("drm_generate_request")
    assert {row.name for row in manager.installed() if row.enabled} == {
        "clearkey",
        "widevine",
        "playready",
        "netflix",
    }


def test_disabled_blocks_an_installed_plugin_and_enabled_is_an_allow_list() -> None:
    blocked = DrmPluginManager(PluginSettings(disabled=["widevine"]))
    assert "com.widevine.alpha" not in blocked.key_systems()
    rows = {row.name: row for row in blocked.installed()}
    assert rows["widevine"].disabled_reason == "blocked by plugins.disabled"
    assert rows["clearkey"].enabled and rows["clearkey"].disabled_reason is None
    allowed = DrmPluginManager(PluginSettings(enabled=["clearkey"]))
    assert allowed.key_systems() == ["org.w3.clearkey"]
    assert {r.name: r for r in allowed.installed()}["netflix"].disabled_reason == (
        "not in plugins.enabled"
    )


def test_an_installed_plugin_claiming_a_taken_key_system_is_a_clear_error(
    make_dist: MakeDist,
) -> None:
    make_dist("drmkit-dup", {"dup": "drmkit_dup_plugin"}, {"drmkit_dup_plugin": DUPLICATE_CLEARKEY})
    with pytest.raises(DuplicateKeySystemError, match=r"plugins\.disabled"):
        DrmPluginManager(PluginSettings())
    assert "org.w3.clearkey" in DrmPluginManager(PluginSettings(disabled=["dup"])).key_systems()


def test_enabled_plugin_not_installed_lists_installed() -> None:
    with pytest.raises(PluginNotInstalledError) as caught:
        DrmPluginManager(PluginSettings(enabled=["clearkey", "nagra"]))
    message = str(caught.value)
    assert "'nagra'" in message and "clearkey" in message and "installed plugins" in message


def test_plugin_that_fails_to_import_is_named(make_dist: MakeDist) -> None:
    make_dist(
        "drmkit-broken",
        {"broken": "drmkit_broken_plugin"},
        {"drmkit_broken_plugin": "raise RuntimeError('boom at import')\n"},
    )
    with pytest.raises(PluginLoadError) as caught:
        DrmPluginManager(PluginSettings(enabled=["clearkey", "broken"]))
    message = str(caught.value)
    assert "'broken'" in message and "drmkit-broken" in message
    assert "RuntimeError: boom at import" in message


def test_two_plugins_claiming_one_key_system(make_dist: MakeDist) -> None:
    make_dist(
        "drmkit-dupe", {"dupe": "drmkit_dupe_plugin"}, {"drmkit_dupe_plugin": DUPLICATE_CLEARKEY}
    )
    with pytest.raises(DuplicateKeySystemError) as caught:
        DrmPluginManager(PluginSettings(enabled=["clearkey", "dupe"]))
    message = str(caught.value)
    assert "org.w3.clearkey" in message and "'clearkey'" in message and "'dupe'" in message


def test_disabled_plugin_is_not_loaded(make_dist: MakeDist) -> None:
    make_dist(
        "drmkit-broken",
        {"broken": "drmkit_broken_plugin"},
        {"drmkit_broken_plugin": "raise RuntimeError('must not be imported')\n"},
    )
    manager = DrmPluginManager(PluginSettings(enabled=["clearkey", "broken"], disabled=["broken"]))
    assert manager.key_systems() == ["org.w3.clearkey"]
    rows = {row.name: row for row in manager.installed()}
    assert rows["broken"].blocked and not rows["broken"].enabled
    assert rows["clearkey"].enabled and rows["clearkey"].distribution == "drmkit-clearkey"
    assert [info.key_system for info in rows["clearkey"].key_systems] == ["org.w3.clearkey"]


def test_plugin_with_unknown_hook_is_rejected(make_dist: MakeDist) -> None:
    source = DUPLICATE_CLEARKEY.replace("org.w3.clearkey", "com.example.odd") + (
        "\n@hookimpl\ndef drm_no_such_hook(session):\n    pass\n"
    )
    make_dist("drmkit-odd", {"odd": "drmkit_odd_plugin"}, {"drmkit_odd_plugin": source})
    with pytest.raises(PluginLoadError, match="drm_no_such_hook"):
        DrmPluginManager(PluginSettings(enabled=["odd"]))


def test_plugin_whose_declaration_raises(make_dist: MakeDist) -> None:
    source = "from drmkit.sdk import hookimpl\n\n@hookimpl\ndef drm_key_systems():\n    1 / 0\n"
    make_dist("drmkit-div", {"div": "drmkit_div_plugin"}, {"drmkit_div_plugin": source})
    with pytest.raises(PluginLoadError, match="ZeroDivisionError"):
        DrmPluginManager(PluginSettings(enabled=["div"]))


def test_entry_point_naming_an_object(make_dist: MakeDist) -> None:
    source = DUPLICATE_CLEARKEY.replace("org.w3.clearkey", "com.example.obj")
    source = source.replace(
        "@hookimpl\ndef drm_key_systems():",
        "class P:\n    @hookimpl\n    def drm_key_systems(self):",
    )
    source = source.replace("\n    return [", "\n        return [") + "\nplugin = P()\n"
    make_dist("drmkit-obj", {"obj": "drmkit_obj_plugin:plugin"}, {"drmkit_obj_plugin": source})
    manager = DrmPluginManager(PluginSettings(enabled=["obj"]))
    assert manager.key_systems() == ["com.example.obj"]


def test_describe_installed_reports_the_start_up_error(make_dist: MakeDist) -> None:
    make_dist(
        "drmkit-broken",
        {"broken": "drmkit_broken_plugin"},
        {"drmkit_broken_plugin": "raise RuntimeError('boom at import')\n"},
    )
    rows, error = describe_installed(PluginSettings(enabled=["missing"]))
    assert error is not None and "missing" in error
    by_name = {row.name: row for row in rows}
    # Not enabled, but still listed with the key systems it would serve, or why it cannot.
    assert [i.key_system for i in by_name["clearkey"].key_systems] == ["org.w3.clearkey"]
    assert not by_name["clearkey"].enabled
    assert by_name["broken"].error is not None and "boom at import" in by_name["broken"].error


ENDPOINT_PLUGIN = """
from drmkit.sdk import (
    KeySystemCapabilities, KeySystemInfo, TestLicenseEndpoint, hookimpl, parse_json_test_challenge,
)

@hookimpl
def drm_key_systems():
    return [KeySystemInfo("{ks}", KeySystemCapabilities(frozenset({{"cenc"}})))]

@hookimpl
def drm_test_license_endpoints():
    return [TestLicenseEndpoint("{path}", "{ks}", frozenset({{"{ks}"}}), parse_json_test_challenge)]
"""


def test_installed_plugin_manager_loads_every_installed_plugin_not_blocked(
    make_dist: MakeDist,
) -> None:
    make_dist(
        "drmkit-endpoints",
        {"ep_a": "drmkit_ep_a", "ep_b": "drmkit_ep_b"},
        {
            "drmkit_ep_a": ENDPOINT_PLUGIN.format(ks="com.example.a", path="/a/license"),
            "drmkit_ep_b": ENDPOINT_PLUGIN.format(ks="com.example.b", path="/b/license"),
        },
    )
    settings = PluginSettings(enabled=["clearkey"], disabled=["ep_b"])
    manager = build_installed_plugin_manager(settings)
    assert "ep_a" in manager.key_system_plugin_names  # installed, not enabled: loaded
    assert "ep_b" not in manager.key_system_plugin_names  # blocked
    paths = [e.path for e in manager.test_license_endpoints()]
    assert "/a/license" in paths and "/b/license" not in paths
    assert paths == sorted(paths)
    # The enabled plugins alone contribute none of them.
    assert DrmPluginManager(settings).test_license_endpoints() == []


def test_two_plugins_claiming_one_test_license_path(make_dist: MakeDist) -> None:
    make_dist(
        "drmkit-endpoints",
        {"ep_a": "drmkit_ep_a", "ep_b": "drmkit_ep_b"},
        {
            "drmkit_ep_a": ENDPOINT_PLUGIN.format(ks="com.example.a", path="/same"),
            "drmkit_ep_b": ENDPOINT_PLUGIN.format(ks="com.example.b", path="/same"),
        },
    )
    manager = DrmPluginManager(PluginSettings(enabled=["ep_a", "ep_b"]))
    with pytest.raises(PluginLoadError, match=r"/same is claimed by two plugins: 'ep_a', 'ep_b'"):
        manager.test_license_endpoints()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("return ['/x']", r"'bad' declared '/x', not a TestLicenseEndpoint"),
        ("raise RuntimeError('boom')", r"'bad' failed in drm_test_license_endpoints:.*boom"),
    ],
)
def test_bad_test_license_declarations_are_named(
    make_dist: MakeDist, body: str, message: str
) -> None:
    source = f"""
from drmkit.sdk import hookimpl

@hookimpl
def drm_test_license_endpoints():
    {body}
"""
    make_dist("drmkit-bad", {"bad": "drmkit_bad_endpoints"}, {"drmkit_bad_endpoints": source})
    manager = DrmPluginManager(PluginSettings(enabled=["bad"]))
    with pytest.raises(PluginLoadError, match=message):
        manager.test_license_endpoints()


class FakeKeySystem:
    """A pure-Python key-system plugin that records its calls."""

    def __init__(self, key_system: str, holds_keys: bool) -> None:
        self.info = KeySystemInfo(key_system, KeySystemCapabilities(frozenset({"keyids"})))
        self.holds_keys = holds_keys
        self.calls: list[str] = []

    @hookimpl
    def drm_key_systems(self) -> list[KeySystemInfo]:
        return [self.info]

    @hookimpl
    def drm_contains_key(self, session: Any, key_id: bytes) -> bool:
        self.calls.append("contains_key")
        return self.holds_keys

    @hookimpl
    def drm_get_last_drm_error(self, session: Any) -> int | None:
        self.calls.append("get_last_drm_error")
        return None  # "no answer": must not let another plugin answer

    @hookimpl
    def drm_update_session(self, session: Any, response: bytes) -> None:
        if response == b"value":
            raise ValueError("bad value")  # the plugin's own code: a plugin bug
        if response == b"type":
            raise TypeError("bad type")
        if response == b"typed":
            raise InvalidLicenseError("not a license")
        if response == b"hal":
            raise drmkit_hal.InvalidArgumentError("key id must be 16 bytes long, not 3")
        raise RuntimeError("plugin bug")


class FakeSession:
    class system:
        key_system = "x"


@pytest.fixture
def routed() -> tuple[DrmPluginManager, FakeKeySystem, FakeKeySystem]:
    manager = DrmPluginManager(PluginSettings(enabled=[]))
    first = FakeKeySystem("com.example.first", holds_keys=False)
    second = FakeKeySystem("com.example.second", holds_keys=True)
    manager.add_key_system_plugin(first, "first")
    manager.add_key_system_plugin(second, "second")
    return manager, first, second


def test_routing_never_reaches_another_key_systems_plugin(
    routed: tuple[DrmPluginManager, FakeKeySystem, FakeKeySystem],
) -> None:
    """A broadcast firstresult call would return True from the second plugin here."""
    manager, first, second = routed
    result = manager.route("com.example.first").call(
        "drm_contains_key", session=FakeSession(), key_id=b"k"
    )
    assert result is False
    assert first.calls == ["contains_key"] and second.calls == []
    assert manager.route("com.example.second").call(
        "drm_contains_key", session=FakeSession(), key_id=b"k"
    )


def test_routing_none_answer_is_not_implemented(
    routed: tuple[DrmPluginManager, FakeKeySystem, FakeKeySystem],
) -> None:
    manager, _, second = routed
    with pytest.raises(InterfaceNotImplementedError):
        manager.route("com.example.first").call("drm_get_last_drm_error", session=FakeSession())
    assert second.calls == []
    with pytest.raises(InterfaceNotImplementedError, match="drm_decrypt"):
        manager.route("com.example.first").call(
            "drm_decrypt", session=FakeSession(), buffer=b"", params=None
        )


def test_plugin_exceptions_become_typed_errors(
    routed: tuple[DrmPluginManager, FakeKeySystem, FakeKeySystem],
) -> None:
    manager, _, _ = routed
    route = manager.route("com.example.first")
    with pytest.raises(
        FailError, match=r"first\.drm_update_session raised RuntimeError: plugin bug"
    ):
        route.call("drm_update_session", session=FakeSession(), response=b"x")
    # A ValueError or TypeError from the plugin's own code is its bug, not the caller's input.
    for response, raised in ((b"value", "ValueError: bad value"), (b"type", "TypeError: bad type")):
        with pytest.raises(FailError) as caught:
            route.call("drm_update_session", session=FakeSession(), response=response)
        assert type(caught.value) is FailError
        assert str(caught.value) == f"first.drm_update_session raised {raised}"
    # drmkit's typed input errors keep their class; an argument the HAL refused is bad input.
    with pytest.raises(InvalidLicenseError, match="not a license"):
        route.call("drm_update_session", session=FakeSession(), response=b"typed")
    with pytest.raises(InvalidInputError) as refused:
        route.call("drm_update_session", session=FakeSession(), response=b"hal")
    assert str(refused.value) == "first.drm_update_session: key id must be 16 bytes long, not 3"


def test_unknown_key_system_lists_served(
    routed: tuple[DrmPluginManager, FakeKeySystem, FakeKeySystem],
) -> None:
    manager, _, _ = routed
    with pytest.raises(NotSupportedError, match=r"com\.example\.first, com\.example\.second"):
        manager.route("com.example.third")
    manager.remove_key_system_plugin("first")
    assert manager.key_systems() == ["com.example.second"]
