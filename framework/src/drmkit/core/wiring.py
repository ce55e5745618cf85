"""The core's provider functions: how the HAL, the plugin manager and the factory are built.

``drmkit.container`` (the services' composition root) uses these very functions as its core
providers, and the conformance kit (``drmkit.testing``, in the core, below the container)
composes with them, so both build the core the same way. Kept out of the container so that the
core needs no dependency_injector and the container stays a list of providers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from drmkit.config import CoreConfig
from drmkit.core.factory import MediaKeysFactory
from drmkit.keysystems.manager import DrmPluginManager, build_installed_plugin_manager
from prometheus_client import CollectorRegistry

if TYPE_CHECKING:
    from drmkit_hal import Hal, HalConfig


def hal_config(settings: CoreConfig) -> HalConfig:
    """Translate the ``[hal]`` section into a ``HalConfig`` (store dir under ``state_dir``)."""
    from drmkit_hal import HalConfig  # the HAL loads its C library: import it when needed

    section = settings.hal
    store_dir = section.store_dir or settings.state_dir / "cdm"
    return HalConfig(
        library_path=section.library_path,
        decrypt_variant=section.decrypt_variant,
        store_dir=store_dir,
        quirks=frozenset(section.quirks),
        profile=section.cdm_profile,
        profile_paths=tuple(section.cdm_profile_paths),
        library_search_path=tuple(section.library_search_path),
    )


def open_hal(settings: CoreConfig) -> Iterator[Hal]:
    """Open the HAL for the container's lifetime (a ``Resource``: closed on shutdown)."""
    from drmkit_hal import Hal

    config = hal_config(settings)
    if config.store_dir is not None:
        config.store_dir.mkdir(parents=True, exist_ok=True)
    hal = Hal.open(config)
    try:
        yield hal
    finally:
        hal.close()


def new_metrics_registry() -> CollectorRegistry:
    """Return the container's own Prometheus registry."""
    return CollectorRegistry()


def build_plugin_manager(settings: CoreConfig, registry: CollectorRegistry) -> DrmPluginManager:
    """Load the enabled key-system plugins and build their routes."""
    return DrmPluginManager(settings.plugins, registry)


def installed_plugin_manager(settings: CoreConfig) -> DrmPluginManager:
    """Load every installed plugin not in ``plugins.disabled`` (the license server's endpoints).

    Its metrics go to a registry of its own: its plugins serve no sessions.
    """
    return build_installed_plugin_manager(settings.plugins, new_metrics_registry())


def open_media_keys_factory(
    plugins: DrmPluginManager, hal: Hal, settings: CoreConfig
) -> Iterator[MediaKeysFactory]:
    """Build the MediaKeys factory; on shutdown its worker pool stops (a ``Resource``)."""
    factory = MediaKeysFactory(plugins, hal, settings.core)
    try:
        yield factory
    finally:
        factory.close()


@contextlib.contextmanager
def open_core(settings: CoreConfig) -> Iterator[MediaKeysFactory]:
    """Yield a MediaKeys factory over the HAL and the plugins, built as the container builds them.

    For core-level code that has no container (tests of the core on a platform, scripts): the
    same provider functions in the container's order. Commands and services take the factory
    from ``drmkit.container`` instead. On exit the factory is closed, then the HAL (the
    container's shutdown order).
    """
    with contextlib.ExitStack() as stack:
        hal = stack.enter_context(contextlib.contextmanager(open_hal)(settings))
        plugins = build_plugin_manager(settings, new_metrics_registry())
        yield stack.enter_context(
            contextlib.contextmanager(open_media_keys_factory)(plugins, hal, settings)
        )
