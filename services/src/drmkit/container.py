"""The dependency-injector container: the one place that wires settings, HAL, plugins and services.

Nothing else builds these objects by hand; tests override providers
(``container.hal.override(...)``) to inject faults.
"""

from __future__ import annotations

from dependency_injector import containers, providers
from drmkit.core import wiring as core_wiring
from drmkit.license_server import KeyStore, create_app, open_key_store
from drmkit.server.app import SessionServer
from drmkit.settings import Settings, load_settings
from drmkit.srm import bootstrap as srm_bootstrap


class Container(containers.DeclarativeContainer):
    """Application container. Components add their providers here."""

    settings: providers.Provider[Settings] = providers.ThreadSafeSingleton(load_settings)
    # Core: the HAL (open for the container's life), key-system plugins, the MediaKeys factory.
    hal = providers.Resource(core_wiring.open_hal, settings)
    metrics_registry = providers.ThreadSafeSingleton(core_wiring.new_metrics_registry)
    plugin_manager = providers.ThreadSafeSingleton(
        core_wiring.build_plugin_manager, settings, metrics_registry
    )
    media_keys_factory = providers.Resource(
        core_wiring.open_media_keys_factory, plugin_manager, hal, settings
    )
    # Session resource manager: store and service are per process; the app's lifespan opens them.
    srm_plugin_manager = providers.ThreadSafeSingleton(srm_bootstrap.plugin_manager)
    srm_store = providers.ThreadSafeSingleton(srm_bootstrap.store_from_settings, settings)
    srm_service = providers.ThreadSafeSingleton(
        srm_bootstrap.service_from_settings, settings, srm_store, srm_plugin_manager
    )
    srm_app = providers.Factory(srm_bootstrap.app_from_settings, settings, srm_service)
    # Session server of one application (``drmkit serve``).
    session_server = providers.Singleton(
        SessionServer, settings, media_keys_factory, hal, metrics_registry
    )
    license_key_store: providers.Provider[KeyStore] = providers.ThreadSafeSingleton(
        open_key_store, settings
    )
    # License server: the test-license endpoints of every installed plugin (plugins.disabled
    # aside), as ``drmkit inspect`` uses every installed plugin: which plugins serve sessions
    # (plugins.enabled) does not limit the test licenses a developer can fetch.
    license_plugin_manager = providers.ThreadSafeSingleton(
        core_wiring.installed_plugin_manager, settings
    )
    license_test_endpoints = license_plugin_manager.provided.test_license_endpoints.call()
    license_server_app = providers.Factory(
        create_app,
        store=license_key_store,
        settings=settings.provided.license_server,
        test_endpoints=license_test_endpoints,
    )


def build_container(settings: Settings | None = None) -> Container:
    """Return a container, optionally bound to an already-built ``Settings``."""
    container = Container()
    if settings is not None:
        container.settings.override(providers.Object(settings))
    return container
