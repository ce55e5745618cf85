"""The dependency-injector container: the one place that wires settings, HAL, plugins and services.

Nothing else builds these objects by hand; tests override providers
(``container.hal.override(...)``) to inject faults.
"""

from __future__ import annotations

from dependency_injector import containers, providers

from drmkit.settings import Settings, load_settings


class Container(containers.DeclarativeContainer):
    """Application container. Components add their providers here."""

    settings: providers.Provider[Settings] = providers.ThreadSafeSingleton(load_settings)


def build_container(settings: Settings | None = None) -> Container:
    """Return a container, optionally bound to an already-built ``Settings``."""
    container = Container()
    if settings is not None:
        container.settings.override(providers.Object(settings))
    return container
