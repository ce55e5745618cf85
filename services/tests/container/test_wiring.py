"""Container wiring, settings sections, limits, metrics, and a plugin hook that raises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from dependency_injector import providers
from drmkit.cli import app, commands  # noqa: F401  (registers the commands)
from drmkit.config import CoreConfig
from drmkit.container import build_container
from drmkit.core import (
    FailError,
    KeyStatusesChanged,
    LicenseRequest,
    LimitExceededError,
    MediaKeysFactory,
)
from drmkit.keysystems.loader import installed_entry_points
from drmkit.sdk import SessionContext
from drmkit.settings import Settings
from drmkit.testing.flows import license_session, new_keys, next_event
from drmkit.testing.refcdm import RefCdmControl
from drmkit_clearkey.plugin import ClearKeyPlugin
from drmkit_hal import Hal
from typer.testing import CliRunner

CLEARKEY = "org.w3.clearkey"


def _services_settings(core: CoreConfig, **core_section: object) -> Settings:
    """The services' settings with the test's core configuration and ``[core]`` changes."""
    values = core.model_dump()
    values["core"] = {**values["core"], **core_section}
    return Settings(**values)


def test_settings_sections_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRMKIT_PLUGINS__ENABLED", '["clearkey"]')
    monkeypatch.setenv("DRMKIT_PLUGINS__DISABLED", '["widevine"]')
    monkeypatch.setenv("DRMKIT_CORE__MAX_SESSIONS", "7")
    monkeypatch.setenv("DRMKIT_HAL__DECRYPT_VARIANT", "v2")
    settings = Settings()
    assert settings.plugins.enabled == ["clearkey"]
    assert settings.plugins.disabled == ["widevine"]
    assert settings.core.max_sessions == 7
    assert settings.hal.decrypt_variant == "v2"
    assert settings.hal.library_path is None


async def test_session_limit(drmkit_settings: CoreConfig, drmkit_hal: Hal) -> None:
    settings = _services_settings(drmkit_settings, max_sessions=3)
    container = build_container(settings)
    container.hal.override(providers.Object(drmkit_hal))
    factory = container.media_keys_factory()
    media_keys = await factory.create_media_keys(CLEARKEY)
    sessions = [await media_keys.create_session() for _ in range(3)]
    with pytest.raises(LimitExceededError):
        await media_keys.create_session()
    await sessions[0].release()
    await media_keys.create_session()  # a freed slot is reusable
    await factory.destroy_all()
    assert factory.open_sessions == 0
    container.shutdown_resources()


async def test_media_keys_limit(drmkit_settings: CoreConfig, drmkit_hal: Hal) -> None:
    settings = _services_settings(drmkit_settings, max_media_keys=1)
    container = build_container(settings)
    container.hal.override(providers.Object(drmkit_hal))
    factory = container.media_keys_factory()
    first = await factory.create_media_keys(CLEARKEY)
    with pytest.raises(LimitExceededError):
        await factory.create_media_keys(CLEARKEY)
    await first.destroy()
    await (await factory.create_media_keys(CLEARKEY)).destroy()
    container.shutdown_resources()


async def test_metrics_per_container_labels_without_session_ids(
    media_keys_factory: MediaKeysFactory,
    refcdm: RefCdmControl,
) -> None:
    media_keys = await media_keys_factory.create_media_keys(CLEARKEY)
    helper = media_keys_factory._plugins.license_helper(CLEARKEY)
    licensed = await license_session(media_keys, helper)
    refcdm.inject("close", key_system=CLEARKEY, fail_code=1)
    with pytest.raises(FailError):
        await licensed.session.close()
    registry = media_keys_factory._plugins.registry
    samples = [s for metric in registry.collect() for s in metric.samples]
    operations = {
        (s.labels["operation"], s.labels["outcome"]): s.value
        for s in samples
        if s.name == "drmkit_operations_total"
    }
    assert operations[("generate_request", "ok")] == 1
    assert operations[("update_session", "ok")] == 1
    assert operations[("close_session", "fail")] == 1
    assert all(
        set(s.labels) <= {"key_system", "operation", "outcome", "le"} for s in samples if s.labels
    )
    assert {s.labels["key_system"] for s in samples if "key_system" in s.labels} == {CLEARKEY}
    # A second container has its own registry.
    other = build_container(Settings())
    assert other.metrics_registry() is not registry


class FaultyClearKey(ClearKeyPlugin):
    """Clear Key whose first update raises a plain exception (a plugin bug)."""

    failed = False

    def drm_update_session(self, session: SessionContext, response: bytes) -> None:
        if not FaultyClearKey.failed:
            FaultyClearKey.failed = True
            raise RuntimeError("plugin bug in update")
        super().drm_update_session(session, response)


async def test_plugin_hook_that_raises_fails_only_that_call(
    drmkit_settings: Settings, drmkit_hal: Hal
) -> None:
    settings = drmkit_settings.model_copy(
        update={"plugins": drmkit_settings.plugins.model_copy(update={"enabled": []})}
    )
    container = build_container(settings)
    container.hal.override(providers.Object(drmkit_hal))
    container.plugin_manager().add_key_system_plugin(FaultyClearKey(), "faulty")
    factory = container.media_keys_factory()
    media_keys = await factory.create_media_keys(CLEARKEY)
    helper = container.plugin_manager().license_helper(CLEARKEY)
    keys = new_keys()
    session = await media_keys.create_session()
    events = session.events()
    init_type, init_data = helper.init_data(list(keys))[0]
    await session.generate_request(init_type, init_data)
    request = await next_event(events, LicenseRequest)
    assert isinstance(request, LicenseRequest)
    license_ = helper.build_license(request.message, keys)
    with pytest.raises(FailError, match=r"faulty\.drm_update_session raised RuntimeError"):
        await session.update(license_)
    await session.update(license_)
    await next_event(events, KeyStatusesChanged)
    assert await session.contains_key(next(iter(keys)))
    await factory.destroy_all()
    container.shutdown_resources()


def test_plugins_command_json() -> None:
    result = CliRunner().invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    clearkey = next(p for p in listing["plugins"] if p["name"] == "clearkey")
    assert clearkey["enabled"] is True
    assert clearkey["distribution"] == "drmkit-clearkey"
    (key_system,) = clearkey["key_systems"]
    assert key_system["key_system"] == CLEARKEY
    assert key_system["capabilities"]["init_data_types"] == ["cenc", "keyids", "webm"]
    assert listing["error"] is None


def test_plugins_listing_fits_80_columns_and_says_why_a_plugin_is_disabled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not {"widevine", "netflix"} <= set(installed_entry_points()):
        pytest.skip("the Widevine and PlayReady/Netflix plugins are not installed")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("DRMKIT_PLUGINS__ENABLED", '["clearkey", "widevine", "playready"]')
    monkeypatch.setenv("DRMKIT_PLUGINS__DISABLED", '["widevine"]')
    result = CliRunner().invoke(app, ["plugins"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, result.stdout
    assert any(line.startswith("clearkey  enabled") for line in lines)
    assert any(
        line.startswith("widevine  disabled (blocked by plugins.disabled)") for line in lines
    )
    assert any(line.startswith("netflix  disabled (not in plugins.enabled)") for line in lines)
    assert "    init data: cenc, keyids, webm" in lines
    listing = json.loads(CliRunner().invoke(app, ["plugins", "--json"]).stdout)
    rows = {row["name"]: row for row in listing["plugins"]}
    assert rows["widevine"]["disabled_reason"] == "blocked by plugins.disabled"
    assert rows["netflix"]["disabled_reason"] == "not in plugins.enabled"
    assert rows["netflix"]["key_systems"][0]["key_system"] == "com.netflix.playready"
    assert rows["clearkey"]["disabled_reason"] is None


def test_plugins_command_table_and_start_up_error(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "org.w3.clearkey" in CliRunner().invoke(app, ["plugins"]).stdout
    monkeypatch.setenv("DRMKIT_PLUGINS__ENABLED", '["clearkey", "nagra"]')
    result = CliRunner().invoke(app, ["plugins", "--json"])
    assert result.exit_code == 1
    assert "'nagra'" in json.loads(result.stdout)["error"]


def test_license_server_app_has_the_installed_plugins_test_endpoints(tmp_path: Path) -> None:
    installed = installed_entry_points()
    if not {"widevine", "playready", "netflix"} <= set(installed):
        pytest.skip("the Widevine and PlayReady/Netflix plugins are not installed")
    settings = Settings(
        state_dir=tmp_path, plugins={"enabled": ["clearkey"], "disabled": ["netflix"]}
    )
    app = build_container(settings).license_server_app()
    paths = [e.path for e in app.state.endpoints]
    # Installed but not enabled still contribute; a blocked one does not.
    assert paths == [
        "/clearkey/license",
        "/clearkey/release",
        "/refcdm/playready/license",
        "/refcdm/widevine/license",
    ]


class SelectingClearKey(ClearKeyPlugin):
    """Clear Key with a key selection that records calls; the first one fails (a fault)."""

    calls: list[bytes] = []

    def drm_select_key_id(self, session: SessionContext, key_id: bytes) -> None:
        SelectingClearKey.calls.append(key_id)
        if len(SelectingClearKey.calls) == 1:
            raise FailError("injected select failure")


async def test_select_key_id_skips_the_selected_key_and_remembers_only_success(
    drmkit_settings: Settings, drmkit_hal: Hal
) -> None:
    """Rialto ``SelectKeyId``: DoNotSetTheSameKeyTwice, SaveKeyAfterSuccessfulOperationOnly."""
    settings = drmkit_settings.model_copy(
        update={"plugins": drmkit_settings.plugins.model_copy(update={"enabled": []})}
    )
    container = build_container(settings)
    container.hal.override(providers.Object(drmkit_hal))
    container.plugin_manager().add_key_system_plugin(SelectingClearKey(), "selecting")
    factory = container.media_keys_factory()
    media_keys = await factory.create_media_keys(CLEARKEY)
    helper = container.plugin_manager().license_helper(CLEARKEY)
    licensed = await license_session(media_keys, helper, new_keys(2))
    first, second = list(licensed.keys)
    session = licensed.session
    with pytest.raises(FailError):
        await session.select_key_id(first)
    await session.select_key_id(first)  # not remembered after the failure: called again
    await session.select_key_id(first)  # already selected: skipped
    await session.select_key_id(second)
    assert SelectingClearKey.calls == [first, first, second]
    await factory.destroy_all()
    container.shutdown_resources()


def test_importing_the_container_imports_no_web_stack_and_leaves_it_importable() -> None:
    """dependency_injector's probe for FastAPI & co. is hidden, the packages themselves are not."""
    code = (
        "import sys, drmkit.container\n"
        "web = ('fastapi', 'starlette', 'uvicorn', 'werkzeug')\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in web], sorted(sys.modules)\n"
        "assert not [m for m in web if m in sys.modules]\n"
        "import fastapi, starlette.requests\n"
        "from drmkit.license_server.app import create_app\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "ok", result.stderr
