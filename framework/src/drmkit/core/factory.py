"""``MediaKeysFactory``: creates MediaKeys, answers capability queries, owns Inactive/Active.

It also enforces the limits of ``[core]``.

Inactive frees every CDM resource (sessions closed and released, systems destructed) and refuses
new MediaKeys with ``InvalidStateError`` until Active again; capability queries answer empty/false
meanwhile (Rialto ``CdmService::switchToInactive``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import threading
from typing import TYPE_CHECKING

from drmkit.core.media_keys import MediaKeys
from drmkit.errors import (
    BadSessionIdError,
    DrmError,
    InterfaceNotImplementedError,
    InvalidStateError,
    LimitExceededError,
    NotSupportedError,
)
from drmkit.sdk import model as plugin_model

if TYPE_CHECKING:
    from drmkit.config import CoreSettings
    from drmkit.keysystems.manager import DrmPluginManager
    from drmkit.keysystems.routing import KeySystemRoute
    from drmkit_hal import Hal

log = logging.getLogger(__name__)

_handles = itertools.count(0)


def cdm_capabilities(route: KeySystemRoute, hal: Hal) -> plugin_model.KeySystemCapabilities:
    """Return the capabilities of ``route``'s key system on the CDM ``hal`` loaded."""
    profile = hal.cdm_profile(route.key_system)
    declared = route.info.capabilities
    if route.implements("drm_cdm_capabilities"):
        try:
            adapted: plugin_model.KeySystemCapabilities = route.call(
                "drm_cdm_capabilities",
                key_system=route.key_system,
                capabilities=declared,
                profile=profile,
            )
        except InterfaceNotImplementedError:  # the plugin answered None: the framework decides
            pass
        else:
            return adapted
    return plugin_model.adapt_capabilities(declared, profile)


class MediaKeysFactory:
    """Creates :class:`MediaKeys` and answers capability queries (one per container)."""

    def __init__(self, plugins: DrmPluginManager, hal: Hal, settings: CoreSettings) -> None:
        self._plugins = plugins
        self._hal = hal
        self._settings = settings
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._media_keys: dict[int, MediaKeys] = {}
        self._open_sessions = 0
        self._active = True
        self._supported: dict[str, bool] = {}
        self._capabilities: dict[str, plugin_model.KeySystemCapabilities] = {}

    # -- configuration -----------------------------------------------------------------------

    @property
    def operation_timeout(self) -> float:
        """Seconds a CDM call may take before the operation fails with ``OperationTimeoutError``."""
        return self._settings.operation_timeout_s

    @property
    def active(self) -> bool:
        """``False`` while Inactive."""
        return self._active

    @property
    def open_sessions(self) -> int:
        """Key sessions created and not yet freed, across every MediaKeys."""
        return self._open_sessions

    @property
    def media_keys(self) -> list[MediaKeys]:
        """The live MediaKeys."""
        return list(self._media_keys.values())

    # -- capabilities ------------------------------------------------------------------------

    def supported_key_systems(self) -> list[str]:
        """Return the enabled key systems the CDM supports (empty while Inactive)."""
        if not self._active:
            return []
        return [ks for ks in self._plugins.key_systems() if self.supports_key_system(ks)]

    def supports_key_system(self, key_system: str) -> bool:
        """Tell whether ``key_system`` is enabled and supported (``False`` for anything unknown)."""
        if not self._active or not isinstance(key_system, str):
            return False
        route = self._plugins.find_route(key_system)
        if route is None:
            return False
        # Asked once per Active period: the answer does not change, and this keeps the CDM
        # call off the event loop after the first query.
        known = self._supported.get(key_system)
        if known is None:
            try:
                known = bool(route.call("drm_is_supported", key_system=key_system, hal=self._hal))
            except DrmError:
                known = False
            self._supported[key_system] = known
        return known

    def capabilities(self, key_system: str) -> plugin_model.KeySystemCapabilities:
        """Return the capabilities on the loaded CDM (``NotSupportedError`` if not enabled).

        The declared capabilities, adapted to the CDM's profile by the plugin's
        ``drm_cdm_capabilities`` (or intersected with the profile when it has none); computed
        once per key system.
        """
        known = self._capabilities.get(key_system)
        if known is None:
            known = cdm_capabilities(self._plugins.route(key_system), self._hal)
            self._capabilities[key_system] = known
        return known

    def supported_robustness_levels(self, key_system: str) -> list[str]:
        """Return the robustness levels of ``key_system`` (empty while Inactive or unknown)."""
        if not self.supports_key_system(key_system):
            return []
        return list(self.capabilities(key_system).robustness_levels)

    async def get_supported_key_system_version(self, key_system: str) -> str | None:
        """Return the CDM version of ``key_system`` (``None`` if unsupported or Inactive)."""
        if not self.supports_key_system(key_system):
            return None
        async with await self.create_media_keys(key_system) as media_keys:
            return await media_keys.get_version()

    async def is_server_certificate_supported(self, key_system: str) -> bool:
        """Tell whether the CDM of ``key_system`` accepts a server certificate."""
        if not self.supports_key_system(key_system):
            return False
        async with await self.create_media_keys(key_system) as media_keys:
            return await media_keys.supports_server_certificate()

    # -- MediaKeys ---------------------------------------------------------------------------

    async def create_media_keys(self, key_system: str) -> MediaKeys:
        """Create a MediaKeys for ``key_system`` on the running event loop.

        Raises ``NotSupportedError`` if no enabled plugin serves the key system or the CDM does
        not support it, ``InvalidStateError`` while Inactive, ``LimitExceededError`` past
        ``core.max_media_keys``.
        """
        if not self._active:
            raise InvalidStateError("media keys cannot be created while Inactive")
        if not isinstance(key_system, str) or not key_system:
            raise NotSupportedError(f"invalid key system {key_system!r}")
        route = self._plugins.route(key_system)
        if len(self._media_keys) >= self._settings.max_media_keys:
            raise LimitExceededError(
                f"{self._settings.max_media_keys} MediaKeys are open (core.max_media_keys)"
            )
        loop = asyncio.get_running_loop()
        system = plugin_model.SystemContext(route.info, self._hal, self.capabilities(key_system))
        media_keys = MediaKeys(self, route, system, loop, self.pool)
        media_keys.handle = next(_handles)
        self._media_keys[media_keys.handle] = media_keys
        try:
            await media_keys._open()
        except BaseException:
            self._media_keys.pop(media_keys.handle, None)
            raise
        return media_keys

    def get_media_keys(self, handle: int) -> MediaKeys:
        """Return the live MediaKeys with ``handle`` (``BadSessionIdError`` if unknown)."""
        media_keys = self._media_keys.get(handle)
        if media_keys is None:
            raise BadSessionIdError(f"no MediaKeys with handle {handle!r}")
        return media_keys

    # -- Inactive / Active -------------------------------------------------------------------

    async def set_active(self, active: bool) -> None:
        """Switch Active/Inactive. Inactive destroys every MediaKeys and refuses new ones."""
        if active:
            self._supported.clear()
            self._active = True
            return
        self._active = False
        await self.destroy_all()

    async def destroy_all(self) -> None:
        """Destroy every MediaKeys (their sessions first)."""
        media_keys = list(self._media_keys.values())
        await asyncio.gather(*(mk.destroy() for mk in media_keys), return_exceptions=True)

    def close(self) -> None:
        """Stop the worker pool (waits for running CDM calls). Call after :meth:`destroy_all`."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    # -- internals ---------------------------------------------------------------------------

    @property
    def pool(self) -> concurrent.futures.ThreadPoolExecutor:
        """The worker threads CDM calls run on (created on first use)."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    max_workers=self._settings.worker_threads, thread_name_prefix="drmkit-cdm"
                )
            return self._pool

    def _reserve_session(self) -> None:
        if self._open_sessions >= self._settings.max_sessions:
            raise LimitExceededError(
                f"{self._settings.max_sessions} key sessions are open (core.max_sessions)"
            )
        self._open_sessions += 1

    def _session_freed(self) -> None:
        self._open_sessions -= 1

    def _media_keys_destroyed(self, media_keys: MediaKeys) -> None:
        self._media_keys.pop(media_keys.handle, None)
