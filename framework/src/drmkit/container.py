"""The dependency-injector container: the one place that wires settings, HAL, plugins and services.

Nothing else builds these objects by hand; tests override providers
(``container.hal.override(...)``) to inject faults.
"""

from __future__ import annotations

from dependency_injector import containers, providers

from drmkit.license_server import KeyStore, create_app, open_key_store
from drmkit.settings import Settings, load_settings


class Container(containers.DeclarativeContainer):
    """Application container. Components add their providers here."""

    settings: providers.Provider[Settings] = providers.ThreadSafeSingleton(load_settings)
    license_key_store: providers.Provider[KeyStore] = providers.ThreadSafeSingleton(
        open_key_store, settings
    )
    license_server_app = providers.Factory(
        create_app, store=license_key_store, settings=settings.provided.license_server
    )


def build_container(settings: Settings | None = None) -> Container:
    """Return a container, optionally bound to an already-built ``Settings``."""
    container = Container()
    if settings is not None:
        container.settings.override(providers.Object(settings))
    return container
