"""The ``drmkit`` pytest plugin: options and fixtures of the conformance kit.

Fixtures: ``drmkit_key_system`` (from ``--drmkit-keysystem``; a conftest may override it),
``drmkit_settings`` (a :class:`drmkit.config.CoreConfig`), ``drmkit_hal`` (one HAL per test
session), ``drmkit_plugin_manager``, ``drmkit_core_factory`` (the in-process MediaKeys factory),
``media_keys_factory`` (in-process or IPC), ``media_keys``, ``license_helper``,
``cdm_profile`` (the profile of the CDM under test), ``drmkit_new_keys`` (random keys that CDM can
use) and ``refcdm`` (reference CDM test control; skips on a platform CDM). They build the core
with the same provider functions the services' container uses (``drmkit.core.wiring``); the
kit imports nothing above the core. ``--drmkit-transport=ipc`` takes its factory and test control
from the session server's pytest plugin (``drmkit_ipc``, shipped with drmkit-services).
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

try:  # the async fixtures need pytest-asyncio (extra ``drmkit[testing]``)
    from pytest_asyncio import fixture as async_fixture
except ImportError:  # pragma: no cover - only without the extra; sync fixtures still work
    async_fixture = pytest.fixture  # type: ignore[assignment]

if TYPE_CHECKING:
    from drmkit.config import CoreConfig
    from drmkit.core.api import MediaKeysApi, MediaKeysFactoryApi
    from drmkit.core.factory import MediaKeysFactory
    from drmkit.keysystems.manager import DrmPluginManager
    from drmkit.sdk.model import LicenseHelper
    from drmkit.testing.refcdm import RefCdmControl
    from drmkit_hal import CdmProfile, Hal


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the kit's command-line options."""
    group = parser.getgroup("drmkit", "drmkit conformance kit")
    group.addoption(
        "--drmkit-keysystem",
        default=None,
        help="Key system the conformance suite runs against (e.g. org.w3.clearkey).",
    )
    group.addoption(
        "--drmkit-plugins",
        default=None,
        help="Comma-separated key-system plugins to enable (default: every installed one).",
    )
    group.addoption(
        "--drmkit-ocdm-library",
        default=None,
        help="Platform OCDM library to test instead of the bundled reference CDM.",
    )
    group.addoption(
        "--drmkit-transport",
        default="inproc",
        choices=("inproc", "ipc"),
        help="inproc: the core in the test process (default); ipc: through drmkit.client"
        " against a drmkit serve process.",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Declare the kit's marker."""
    config.addinivalue_line(
        "markers", "drmkit_conformance: a test of drmkit's key-system conformance suite"
    )


@pytest.fixture(scope="session")
def drmkit_vectors_dir() -> Path:
    """Return the test vectors directory (:func:`drmkit.testing.vectors.vectors_dir`).

    A test that needs them fails when they are missing: it never passes by skipping.
    """
    from drmkit.testing.vectors import VectorsMissingError, vectors_dir

    try:
        return vectors_dir()
    except VectorsMissingError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def drmkit_key_system(request: pytest.FixtureRequest) -> str:
    """Return the key system under test; skips when ``--drmkit-keysystem`` is not given."""
    value = request.config.getoption("--drmkit-keysystem")
    if not value:
        pytest.skip("no key system under test (pass --drmkit-keysystem=...)")
    return str(value)


@pytest.fixture(scope="session")
def drmkit_plugins(request: pytest.FixtureRequest) -> list[str]:
    """Return the plugins to enable: ``--drmkit-plugins``, else every installed one that imports.

    A conftest may override it (drmkit's own tests enable ``["clearkey"]``).
    """
    option = request.config.getoption("--drmkit-plugins")
    if option:
        return [name.strip() for name in str(option).split(",") if name.strip()]
    from drmkit.errors import PluginLoadError
    from drmkit.keysystems.loader import installed_entry_points

    importable = []
    for name, entry_point in sorted(installed_entry_points().items()):
        try:
            entry_point.load()
        except PluginLoadError as exc:
            warnings.warn(f"not enabling {name}: {exc}", stacklevel=1)
            continue
        importable.append(name)
    return importable


@pytest.fixture
def drmkit_settings(
    tmp_path: Path, drmkit_plugins: list[str], request: pytest.FixtureRequest
) -> CoreConfig:
    """Return the core configuration of one test: state under ``tmp_path``, plugins enabled.

    The rest comes from the environment and ``drmkit.toml`` as usual (e.g. the HAL's library and
    search path on a platform).
    """
    from drmkit.config import CoreConfig

    return CoreConfig(**_overrides(request, tmp_path / "state", plugins=drmkit_plugins))


def _overrides(
    request: pytest.FixtureRequest, state_dir: Path, plugins: list[str] | None = None
) -> dict[str, Any]:
    overrides: dict[str, Any] = {"state_dir": state_dir}
    if plugins is not None:
        overrides["plugins"] = {"enabled": list(plugins)}
    library = request.config.getoption("--drmkit-ocdm-library")
    if library:
        overrides["hal"] = {"library_path": library}
    return overrides


@pytest.fixture(scope="session")
def drmkit_hal(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Hal]:
    """Open one HAL for the whole test session (the CDM library is process-global anyway)."""
    from drmkit.config import CoreConfig
    from drmkit.core.wiring import hal_config
    from drmkit_hal import Hal

    settings = CoreConfig(**_overrides(request, tmp_path_factory.mktemp("drmkit-state")))
    store_dir = hal_config(settings).store_dir
    if store_dir is not None:
        store_dir.mkdir(parents=True, exist_ok=True)
    # Not closed at the end of the run: unloading the library then raced with the reference
    # CDM's callback thread (a crash at interpreter exit). Every test destroys its MediaKeys.
    yield Hal.open(hal_config(settings))


@pytest.fixture
def drmkit_plugin_manager(drmkit_settings: CoreConfig) -> DrmPluginManager:
    """Return the plugin manager of ``drmkit_settings`` (the enabled plugins and their routes)."""
    from drmkit.core.wiring import build_plugin_manager, new_metrics_registry

    return build_plugin_manager(drmkit_settings, new_metrics_registry())


@pytest.fixture
def drmkit_transport(request: pytest.FixtureRequest) -> str:
    """Return ``inproc`` or ``ipc`` (from ``--drmkit-transport``; a conftest may override it)."""
    return str(request.config.getoption("--drmkit-transport"))


def _ipc_fixture(request: pytest.FixtureRequest, name: str) -> Any:
    """Return a fixture of the session server's pytest plugin (``drmkit-services``)."""
    if not request.config.pluginmanager.hasplugin("drmkit_ipc"):
        pytest.fail(
            "--drmkit-transport=ipc needs the session server's pytest plugin: install "
            "drmkit-services (it registers the pytest11 entry point drmkit_ipc)"
        )
    return request.getfixturevalue(name)


@pytest.fixture
def drmkit_core_factory(
    drmkit_settings: CoreConfig, drmkit_hal: Hal, drmkit_plugin_manager: DrmPluginManager
) -> Iterator[MediaKeysFactory]:
    """Return the in-process MediaKeys factory (a plain fixture: code may drive it from threads)."""
    from drmkit.core.wiring import open_media_keys_factory

    yield from open_media_keys_factory(drmkit_plugin_manager, drmkit_hal, drmkit_settings)


@async_fixture
async def media_keys_factory(
    request: pytest.FixtureRequest, drmkit_transport: str
) -> AsyncIterator[MediaKeysFactoryApi]:
    """Return the MediaKeys factory; every MediaKeys is destroyed afterwards.

    Typed as the MKS API contract (:class:`drmkit.core.api.MediaKeysFactoryApi`): with the
    ``ipc`` transport this is a ``drmkit.client.MediaKeysClient`` connected to a ``drmkit serve``
    process of the test session (the session server's pytest plugin connects it: fixture
    ``drmkit_ipc_connect``), which implements the same protocols as the core.
    """
    factory: MediaKeysFactoryApi
    if drmkit_transport == "ipc":
        client = await _ipc_fixture(request, "drmkit_ipc_connect")()
        factory = client  # drmkit.client checks with mypy that it implements the protocol
        try:
            yield factory
        finally:
            if client.connected:
                await client.set_active(True)
                await client.destroy_all()
            await client.close()
        return
    factory = request.getfixturevalue("drmkit_core_factory")
    try:
        yield factory
    finally:
        await factory.set_active(True)
        await factory.destroy_all()


@async_fixture
async def media_keys(
    media_keys_factory: MediaKeysFactoryApi, drmkit_key_system: str
) -> AsyncIterator[MediaKeysApi]:
    """Return a MediaKeys of the key system under test."""
    media_keys = await media_keys_factory.create_media_keys(drmkit_key_system)
    try:
        yield media_keys
    finally:
        await media_keys.destroy()


@pytest.fixture
def license_helper(
    drmkit_plugin_manager: DrmPluginManager, drmkit_key_system: str
) -> LicenseHelper:
    """Return the key system's license helper (from its plugin's ``drm_license_helper``)."""
    from drmkit.errors import InterfaceNotImplementedError

    try:
        helper: LicenseHelper = drmkit_plugin_manager.license_helper(drmkit_key_system)
    except InterfaceNotImplementedError:
        pytest.skip(f"{drmkit_key_system} has no license helper (drm_license_helper)")
    return helper


@pytest.fixture
def cdm_profile(drmkit_hal: Hal, drmkit_key_system: str) -> CdmProfile:
    """Return the profile of the CDM serving the key system under test (``docs/platforms.md``)."""
    return drmkit_hal.cdm_profile(drmkit_key_system)


@pytest.fixture
def drmkit_new_keys(cdm_profile: CdmProfile) -> Callable[..., dict[bytes, bytes]]:
    """Return ``new_keys(count=1)``: random key ids with keys the CDM under test can use."""
    from drmkit.testing.flows import new_keys

    def make(count: int = 1) -> dict[bytes, bytes]:
        return new_keys(count, cdm_profile)

    return make


def _cdm_operation_aliases(manager: DrmPluginManager, key_system: str) -> dict[str, str]:
    """Return the license helper's generic-operation → CDM-call aliases (none if it has none)."""
    from drmkit.errors import InterfaceNotImplementedError

    try:
        helper = manager.license_helper(key_system)
    except InterfaceNotImplementedError:
        return {}
    return dict(helper.cdm_operation_aliases)


@pytest.fixture
def refcdm(
    request: pytest.FixtureRequest,
    drmkit_hal: Hal,
    drmkit_transport: str,
    drmkit_plugin_manager: DrmPluginManager,
    drmkit_key_system: str,
) -> Iterator[RefCdmControl]:
    """Return the reference CDM's test control (skips on a platform CDM); resets after.

    With the ``ipc`` transport it controls the CDM inside the session server process. Faults the
    suite names after generic operations follow the key system's license helper's
    ``cdm_operation_aliases`` (a mapping such as ``{"update": "store_license_data"}``) when it has
    one, so a key system whose flow uses other CDM calls runs the suite unchanged.
    """
    from drmkit.testing.refcdm import RefCdmControl

    if not drmkit_hal.is_reference:
        pytest.skip("needs the reference CDM's test control (fault injection, renewals, stats)")
    aliases = _cdm_operation_aliases(drmkit_plugin_manager, drmkit_key_system)
    target = (
        _ipc_fixture(request, "drmkit_ipc_test_control")
        if drmkit_transport == "ipc"
        else drmkit_hal
    )
    control = RefCdmControl(target, aliases, drmkit_key_system)
    control.reset()
    try:
        yield control
    finally:
        control.reset()
