"""The media-key-session (MKS) API contract: what every implementation of it offers.

Three :class:`typing.Protocol` classes describe the API of ``docs/architecture.md`` (Rialto's
MKS, with a session object besides Rialto's by-id calls):

- :class:`MediaKeysFactoryApi`: capability queries, MediaKeys creation, the Active/Inactive state;
- :class:`MediaKeysApi`: the key sessions and system-level calls of one key system;
- :class:`KeySessionApi`: one key session, its state, events and decrypt references.

Two implementations exist, and mypy checks that both satisfy these protocols: the in-process core
(:class:`drmkit.core.MediaKeysFactory`, :class:`~drmkit.core.MediaKeys`,
:class:`~drmkit.core.KeySession`) and the session server's client (``drmkit.client``:
``MediaKeysClient``, ``RemoteMediaKeys``, ``RemoteKeySession``). Code written against the
protocols (the conformance kit's suite, ``drmkit.testing.flows``) runs on either unchanged.

What stays outside the contract, on purpose:

- lifetime: the core's factory is closed by its owner (``close()``, synchronous: it stops the
  worker pool; the container does it on shutdown), the client's connection with
  ``await client.close()``;
- ``MediaKeys.cdm_profile``: the profile describes the CDM loaded in *this* process; a client's
  CDM lives in the server;
- ``MediaKeysFactory.open_sessions`` / ``operation_timeout`` (process-wide core facts) and the
  client's connection extras (``connected``, ``reconnect``, ``ping``, ``sample_buffer``);
- ``set_active`` on a client needs its ``control_socket_path`` (the server manager's socket):
  without one it raises ``InvalidStateError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol, Self

from drmkit.types import (
    DecryptParams,
    InitDataType,
    KeySessionType,
    LimitedDurationLicense,
    SessionState,
)

if TYPE_CHECKING:
    import asyncio

    from drmkit.core.listeners import EventStream
    from drmkit.events import KeyStatus, MediaKeysListener
    from drmkit.sdk.model import KeySystemCapabilities

__all__ = ["KeySessionApi", "MediaKeysApi", "MediaKeysFactoryApi"]


class KeySessionApi(Protocol):
    """One media key session: state machine, events, license exchange, decrypt.

    A call in the wrong state raises ``InvalidStateError``; any call on a released session
    ``BadSessionIdError`` (``docs/architecture.md``, state machine).
    """

    @property
    def id(self) -> int:
        """The key session id (unique for the life of the server or process, never reused)."""

    @property
    def session_type(self) -> KeySessionType:
        """The session type (``UNKNOWN`` at creation becomes ``TEMPORARY``)."""

    @property
    def key_system(self) -> str:
        """The key system of the session's MediaKeys."""

    @property
    def state(self) -> SessionState:
        """The session's state (``RELEASED`` as soon as a release was requested)."""

    @property
    def key_statuses(self) -> dict[bytes, KeyStatus]:
        """The last reported status of every key (a copy)."""

    @property
    def decrypt_references(self) -> int:
        """Decrypt references held on the session (close and release wait for zero)."""

    @property
    def closed(self) -> asyncio.Future[None]:
        """A future resolved once the CDM session is closed or released (after any deferral)."""

    def set_listener(self, listener: MediaKeysListener | None) -> None:
        """Replace the session's listener; ``None`` detaches it."""

    def events(self) -> EventStream:
        """Return a new async iterator over this session's events from now on."""

    async def generate_request(
        self,
        init_data_type: InitDataType | str,
        init_data: bytes,
        ldl_state: LimitedDurationLicense = LimitedDurationLicense.NOT_SPECIFIED,
    ) -> None:
        """Start the license exchange; the request arrives as a ``LicenseRequest`` event."""

    async def load(self, cdm_session_id: str = "") -> None:
        """Load a persistent-licence session."""

    async def update(self, response: bytes) -> None:
        """Give the CDM a license, renewal or release acknowledgement."""

    async def close(self) -> None:
        """Close the session (deferred while decrypt references are held)."""

    async def remove(self) -> None:
        """Remove the stored license; events keep flowing afterwards."""

    async def release(self) -> None:
        """Free the session; its id is unknown afterwards (deferred while references are held)."""

    async def contains_key(self, key_id: bytes) -> bool:
        """Tell whether the session holds ``key_id``."""

    async def select_key_id(self, key_id: bytes) -> None:
        """Select the key later decrypts use."""

    async def set_drm_header(self, header: bytes) -> None:
        """Set the DRM header (queued before the first generate request)."""

    async def get_last_drm_error(self) -> int:
        """Return the CDM-specific code of the session's last error (0: none)."""

    async def get_cdm_key_session_id(self) -> str:
        """Return the CDM's own key session id string."""

    async def decrypt(self, buffer: Any, params: DecryptParams) -> None:
        """Decrypt one sample in place (``buffer``: any writable bytes-like object)."""

    async def decrypt_many(self, samples: Iterable[tuple[Any, DecryptParams]]) -> None:
        """Decrypt ``(buffer, params)`` samples in place, in order; the first failure stops."""

    def acquire_decrypt_reference(self) -> None:
        """Hold the session open for decrypting (Rialto's per-buffer usage counter)."""

    def release_decrypt_reference(self) -> None:
        """Drop a reference; at zero a deferred close and/or release runs."""

    def decrypt_reference(self) -> AbstractAsyncContextManager[Self]:
        """``async with session.decrypt_reference():`` holds the session while decrypting."""


class MediaKeysApi(Protocol):
    """The key sessions and system-level calls of one key system.

    Session operations exist on the session objects and by key session id (Rialto's
    ``IMediaKeys``); an unknown id raises ``BadSessionIdError`` for every call.
    """

    @property
    def handle(self) -> int:
        """The MediaKeys handle (unique in its process or connection)."""

    @property
    def key_system(self) -> str:
        """The key system, e.g. ``org.w3.clearkey``."""

    @property
    def capabilities(self) -> KeySystemCapabilities:
        """The key system's capabilities on the loaded CDM."""

    @property
    def destroyed(self) -> bool:
        """``True`` once destroyed (also by Inactive or, for a client, a lost connection)."""

    @property
    def session_ids(self) -> list[int]:
        """Ids of the sessions that are not released."""

    async def create_session(
        self,
        session_type: KeySessionType = KeySessionType.TEMPORARY,
        listener: MediaKeysListener | None = None,
    ) -> KeySessionApi:
        """Create a key session; its events go to ``listener`` and to ``session.events()``."""

    def get_session(self, session_id: int) -> KeySessionApi:
        """Return the session with ``session_id`` (``BadSessionIdError`` if unknown/released)."""

    async def generate_request(
        self,
        session_id: int,
        init_data_type: InitDataType | str,
        init_data: bytes,
        ldl_state: LimitedDurationLicense = LimitedDurationLicense.NOT_SPECIFIED,
    ) -> None:
        """:meth:`KeySessionApi.generate_request` by id."""

    async def load_session(self, session_id: int, cdm_session_id: str = "") -> None:
        """:meth:`KeySessionApi.load` by id."""

    async def update_session(self, session_id: int, response: bytes) -> None:
        """:meth:`KeySessionApi.update` by id."""

    async def close_key_session(self, session_id: int) -> None:
        """:meth:`KeySessionApi.close` by id."""

    async def remove_key_session(self, session_id: int) -> None:
        """:meth:`KeySessionApi.remove` by id."""

    async def release_key_session(self, session_id: int) -> None:
        """:meth:`KeySessionApi.release` by id."""

    async def contains_key(self, session_id: int, key_id: bytes) -> bool:
        """:meth:`KeySessionApi.contains_key` by id."""

    async def select_key_id(self, session_id: int, key_id: bytes) -> None:
        """:meth:`KeySessionApi.select_key_id` by id."""

    async def set_drm_header(self, session_id: int, header: bytes) -> None:
        """:meth:`KeySessionApi.set_drm_header` by id."""

    async def get_last_drm_error(self, session_id: int) -> int:
        """:meth:`KeySessionApi.get_last_drm_error` by id."""

    async def get_cdm_key_session_id(self, session_id: int) -> str:
        """:meth:`KeySessionApi.get_cdm_key_session_id` by id."""

    async def decrypt(self, session_id: int, buffer: Any, params: DecryptParams) -> None:
        """:meth:`KeySessionApi.decrypt` by id (also for a session released with references)."""

    async def decrypt_many(
        self, session_id: int, samples: Iterable[tuple[Any, DecryptParams]]
    ) -> None:
        """:meth:`KeySessionApi.decrypt_many` by id (also for a session released with refs)."""

    async def get_version(self) -> str:
        """Return the CDM's version string."""

    async def supports_server_certificate(self) -> bool:
        """Tell whether the CDM accepts a server certificate."""

    async def set_server_certificate(self, certificate: bytes) -> None:
        """Give the CDM a server certificate."""

    async def delete_drm_store(self) -> None:
        """Delete the key system's DRM (secure) store."""

    async def delete_key_store(self) -> None:
        """Delete the key system's key store."""

    async def get_drm_store_hash(self) -> bytes:
        """Return the DRM store hash."""

    async def get_key_store_hash(self) -> bytes:
        """Return the key store hash."""

    async def get_drm_time(self) -> int:
        """Return the DRM clock."""

    async def get_ldl_session_limit(self) -> int:
        """Return the limited-duration-license session limit."""

    async def get_metric_system_data(self) -> bytes:
        """Return the CDM's metric data."""

    async def destroy(self) -> None:
        """Release every session and destroy the CDM system (idempotent)."""

    async def __aenter__(self) -> Self:
        """Return the MediaKeys itself (``async with``: destroyed on exit)."""

    async def __aexit__(self, *exc_info: object) -> None:
        """Destroy the MediaKeys."""


class MediaKeysFactoryApi(Protocol):
    """Capability queries, MediaKeys creation and the application's Active/Inactive state."""

    @property
    def active(self) -> bool:
        """``False`` while the application is Inactive."""

    @property
    def media_keys(self) -> Sequence[MediaKeysApi]:
        """The live MediaKeys (of this process, or of this client connection)."""

    def supported_key_systems(self) -> list[str]:
        """Return the enabled key systems the CDM supports (empty while Inactive)."""

    def supports_key_system(self, key_system: str) -> bool:
        """Tell whether ``key_system`` is supported (``False`` for anything unknown)."""

    def capabilities(self, key_system: str) -> KeySystemCapabilities:
        """Return the capabilities on the loaded CDM (``NotSupportedError`` if unsupported)."""

    def supported_robustness_levels(self, key_system: str) -> list[str]:
        """Return the robustness levels of ``key_system`` (empty while Inactive or unknown)."""

    async def get_supported_key_system_version(self, key_system: str) -> str | None:
        """Return the CDM version of ``key_system`` (``None`` if unsupported or Inactive)."""

    async def is_server_certificate_supported(self, key_system: str) -> bool:
        """Tell whether the CDM of ``key_system`` accepts a server certificate."""

    async def create_media_keys(self, key_system: str) -> MediaKeysApi:
        """Create a MediaKeys (``NotSupportedError``, ``InvalidStateError`` while Inactive)."""

    def get_media_keys(self, handle: int) -> MediaKeysApi:
        """Return the live MediaKeys with ``handle`` (``BadSessionIdError`` if unknown)."""

    async def set_active(self, active: bool) -> None:
        """Switch Active/Inactive; Inactive destroys every MediaKeys and refuses new ones."""

    async def destroy_all(self) -> None:
        """Destroy every MediaKeys (their sessions first)."""
