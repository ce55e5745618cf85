"""The dependency-injector container: the composition root of every command and service.

It wires settings, the HAL, the key-system plugins, the MediaKeys factory, the session server, the
license server and the SRM. Nothing else builds these objects: commands take them from here
(``drmkit.cli.common.open_container``), tests override providers (``container.hal.override(...)``)
to inject faults.

**Providers import lazily.** The core's providers are the core's own provider functions
(:mod:`drmkit.core.wiring`, which the conformance kit composes with too), not copies; the HAL is
imported when first opened. The services' providers are the functions below (and
:mod:`drmkit.srm.bootstrap`'s), which import what they build when called. So a command pays only
for the providers it calls: ``drmkit decrypt`` and ``drmkit inspect`` never import the web stack
(FastAPI, Starlette, uvicorn) that the license server and the SRM need.

dependency_injector itself, when imported, probes for FastAPI, Starlette, Werkzeug and fast_depends
(for ``Depends(Provide[...])`` in its ``@inject`` wiring, which drmkit does not use); importing
them cost more than decrypting a 50 MB file. The import below hides those not yet imported from
that probe (:func:`_without_web_probes`), so importing this module stays free of the web stack.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from drmkit.core import wiring as core_wiring
from drmkit.keysystems.manager import describe_installed
from drmkit.settings import Settings, load_settings
from drmkit.srm import bootstrap as srm_bootstrap

if TYPE_CHECKING:
    from drmkit.core.factory import MediaKeysFactory
    from drmkit.license_server.config import LicenseServerSettings
    from drmkit.license_server.store import KeyStore
    from drmkit.sdk import TestLicenseEndpoint
    from drmkit.server.app import SessionServer
    from drmkit.testing.probe import ProbeReport
    from drmkit_hal import Hal, HalConfig, LibraryProfile
    from prometheus_client import CollectorRegistry
    from starlette.applications import Starlette

#: What dependency_injector.wiring probes for at import (``with suppress(ImportError)``).
_WEB_PROBES = ("fastapi", "fast_depends", "starlette", "werkzeug")


@contextlib.contextmanager
def _without_web_probes() -> Iterator[None]:
    """Make the web packages not imported yet look absent, for the block only.

    A ``None`` entry in ``sys.modules`` makes ``import name`` raise ``ImportError``; the entries
    are removed afterwards, so the license server and the SRM import the real packages later.
    Packages already imported are left alone (the probe then finds them, as usual).
    """
    hidden = [name for name in _WEB_PROBES if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


with _without_web_probes():
    from dependency_injector import containers, providers


# -- provider functions of the services (each imports what it builds) -------------------------


def without_store(config: HalConfig) -> HalConfig:
    """Return ``config`` without a store directory: listing and probing persist nothing."""
    return dataclasses.replace(config, store_dir=None)


def load_library_profile(config: HalConfig) -> LibraryProfile:
    """Return the profile of the configured OCDM library (loaded, no OCDM call; ``HalError``)."""
    from drmkit_hal import library_profile

    return library_profile(config)


def run_cdm_probe(config: HalConfig) -> ProbeReport:
    """Run the known-answer probes of the library's Clear Key CDM (``HalError`` if unusable)."""
    from drmkit.testing.probe import probe_clearkey

    return probe_clearkey(config)


def new_session_server(
    settings: Settings, factory: MediaKeysFactory, hal: Hal, registry: CollectorRegistry
) -> SessionServer:
    """Return the session server of one application (``drmkit serve``), not yet started."""
    from drmkit.server.app import SessionServer

    return SessionServer(settings.server, factory, hal, registry)


def open_license_key_store(settings: Settings) -> KeyStore:
    """Open the license server's key store (``KeyStoreError`` if unusable)."""
    from drmkit.license_server.store import open_key_store

    return open_key_store(settings)


def new_license_server_app(
    store: KeyStore,
    settings: LicenseServerSettings,
    test_endpoints: Sequence[TestLicenseEndpoint],
) -> Starlette:
    """Return the license server's ASGI application over ``store`` (imports Starlette).

    ``test_endpoints`` are the test-license routes the installed plugins declare.
    """
    from drmkit.license_server.app import create_app

    return create_app(store, settings, test_endpoints=test_endpoints)


class Container(containers.DeclarativeContainer):
    """Application container. Components add their providers here."""

    settings: providers.Provider[Settings] = providers.ThreadSafeSingleton(load_settings)
    # Core: the HAL (open for the container's life), key-system plugins, the MediaKeys factory.
    hal_config = providers.Factory(core_wiring.hal_config, settings)
    hal = providers.Resource(core_wiring.open_hal, settings)
    metrics_registry = providers.ThreadSafeSingleton(core_wiring.new_metrics_registry)
    plugin_manager = providers.ThreadSafeSingleton(
        core_wiring.build_plugin_manager, settings, metrics_registry
    )
    media_keys_factory = providers.Resource(
        core_wiring.open_media_keys_factory, plugin_manager, hal, settings
    )
    # What is installed and what the CDM is, without opening the HAL (``drmkit plugins``, ``cdm``).
    installed_plugins = providers.Factory(describe_installed, settings.provided.plugins)
    hal_probe_config = providers.Factory(without_store, hal_config)
    cdm_library_profile = providers.Factory(load_library_profile, hal_probe_config)
    cdm_probe_report = providers.Factory(run_cdm_probe, hal_probe_config)
    # Session resource manager: store and service are per process; the app's lifespan opens them.
    srm_plugin_manager = providers.ThreadSafeSingleton(srm_bootstrap.plugin_manager)
    srm_store = providers.ThreadSafeSingleton(srm_bootstrap.store_from_settings, settings)
    srm_service = providers.ThreadSafeSingleton(
        srm_bootstrap.service_from_settings, settings, srm_store, srm_plugin_manager
    )
    srm_app = providers.Factory(srm_bootstrap.app_from_settings, settings, srm_service)
    # Session server of one application (``drmkit serve``).
    session_server = providers.Singleton(
        new_session_server, settings, media_keys_factory, hal, metrics_registry
    )
    # License server (``drmkit license-server``, ``drmkit keys``, the demo).
    license_key_store: providers.Provider[KeyStore] = providers.ThreadSafeSingleton(
        open_license_key_store, settings
    )
    # Every installed plugin that plugins.disabled does not block, whatever plugins.enabled says:
    # for what is harmless to take from any of them (``drmkit inspect`` describes init data with
    # all; the license server serves every plugin's test-license endpoints).
    installed_plugin_manager = providers.ThreadSafeSingleton(
        core_wiring.installed_plugin_manager, settings
    )
    license_test_endpoints = installed_plugin_manager.provided.test_license_endpoints.call()
    license_server_app = providers.Factory(
        new_license_server_app,
        license_key_store,
        settings.provided.license_server,
        license_test_endpoints,
    )


def build_container(settings: Settings | None = None) -> Container:
    """Return a container, optionally bound to an already-built ``Settings``."""
    container = Container()
    if settings is not None:
        container.settings.override(providers.Object(settings))
    return container
