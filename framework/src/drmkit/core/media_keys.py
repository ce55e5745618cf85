"""``MediaKeys``: the key sessions of one key system, and the key system's system-level calls.

Create one with ``await factory.create_media_keys(key_system)``. Session operations are available
both on :class:`~drmkit.core.session.KeySession` objects and by key session id (Rialto's
``IMediaKeys`` shape, used by the session server): an unknown id raises ``BadSessionIdError`` for
every call, close and contains_key included.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Coroutine, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from drmkit.core.executor import SerialExecutor
from drmkit.core.ids import next_session_id
from drmkit.core.session import KeySession
from drmkit.core.validation import require_bytes
from drmkit.errors import (
    BadSessionIdError,
    DrmError,
    InvalidStateError,
    NotSupportedError,
    OperationTimeoutError,
)
from drmkit.events import MediaKeysListener
from drmkit.types import (
    DecryptParams,
    InitDataType,
    KeySessionType,
    LimitedDurationLicense,
)

if TYPE_CHECKING:
    from drmkit.core.factory import MediaKeysFactory
    from drmkit.keysystems.routing import KeySystemRoute
    from drmkit.sdk.model import KeySystemCapabilities, SystemContext
    from drmkit_hal import CdmProfile

log = logging.getLogger(__name__)

#: Cancellation message of a CDM call's future whose operation timed out.
_TIMED_OUT = "drmkit: operation timed out"


class MediaKeys:
    """The key sessions and system-level calls of one key system."""

    def __init__(
        self,
        factory: MediaKeysFactory,
        route: KeySystemRoute,
        system: SystemContext,
        loop: asyncio.AbstractEventLoop,
        pool: concurrent.futures.Executor,
    ) -> None:
        self._factory = factory
        self._route = route
        self._system = system
        self._loop = loop
        self._pool = pool
        self._executor = SerialExecutor(loop, pool)
        self._sessions: dict[int, KeySession] = {}
        self._held: set[KeySession] = set()  # released while decrypt references were held
        self._tasks: set[asyncio.Task[Any]] = set()
        self._destroyed = False
        self.handle: int = -1
        """The handle the factory gave this MediaKeys (unique in the process)."""

    def __repr__(self) -> str:
        return f"<MediaKeys {self.handle} {self.key_system} sessions={len(self._sessions)}>"

    @property
    def key_system(self) -> str:
        """The key system (e.g. ``org.w3.clearkey``)."""
        return self._system.key_system

    @property
    def capabilities(self) -> KeySystemCapabilities:
        """The key system's capabilities on the loaded CDM (declared, narrowed by its profile)."""
        return self._system.capabilities

    @property
    def cdm_profile(self) -> CdmProfile:
        """The profile of the CDM serving the key system (``docs/platforms.md``)."""
        return self._system.profile

    @property
    def destroyed(self) -> bool:
        """``True`` once :meth:`destroy` ran (or the factory switched to Inactive)."""
        return self._destroyed

    @property
    def session_ids(self) -> list[int]:
        """Ids of the sessions that are not released."""
        return list(self._sessions)

    # -- sessions ----------------------------------------------------------------------------

    async def create_session(
        self,
        session_type: KeySessionType = KeySessionType.TEMPORARY,
        listener: MediaKeysListener | None = None,
    ) -> KeySession:
        """Create a key session; its events go to ``listener`` and to ``session.events()``.

        Raises ``NotSupportedError`` for a session type the key system did not declare and
        ``LimitExceededError`` past ``core.max_sessions``.
        """
        self._check_open()
        try:
            kind = KeySessionType(session_type)
        except ValueError:
            raise NotSupportedError(f"unknown session type {session_type!r}") from None
        if kind is KeySessionType.UNKNOWN:
            kind = KeySessionType.TEMPORARY
        if kind not in self.capabilities.session_types:
            raise NotSupportedError(f"{self.key_system} does not support {kind.name} sessions")
        self._factory._reserve_session()
        session = KeySession(self, next_session_id(), kind, listener)
        self._sessions[session.id] = session
        try:
            await session._run("drm_create_session")
        except BaseException:
            self._sessions.pop(session.id, None)
            await session._force_release()
            raise
        return session

    def get_session(self, session_id: int) -> KeySession:
        """Return the session with ``session_id``; ``BadSessionIdError`` if unknown or released."""
        session = self._sessions.get(session_id) if isinstance(session_id, int) else None
        if session is None:
            raise BadSessionIdError(f"no key session {session_id!r} in {self.key_system} MediaKeys")
        return session

    # Rialto-shaped operations by key session id.

    async def generate_request(
        self,
        session_id: int,
        init_data_type: InitDataType | str,
        init_data: bytes,
        ldl_state: LimitedDurationLicense = LimitedDurationLicense.NOT_SPECIFIED,
    ) -> None:
        """:meth:`KeySession.generate_request` by id."""
        await self.get_session(session_id).generate_request(init_data_type, init_data, ldl_state)

    async def load_session(self, session_id: int, cdm_session_id: str = "") -> None:
        """:meth:`KeySession.load` by id."""
        await self.get_session(session_id).load(cdm_session_id)

    async def update_session(self, session_id: int, response: bytes) -> None:
        """:meth:`KeySession.update` by id."""
        await self.get_session(session_id).update(response)

    async def close_key_session(self, session_id: int) -> None:
        """:meth:`KeySession.close` by id."""
        await self.get_session(session_id).close()

    async def remove_key_session(self, session_id: int) -> None:
        """:meth:`KeySession.remove` by id."""
        await self.get_session(session_id).remove()

    async def release_key_session(self, session_id: int) -> None:
        """:meth:`KeySession.release` by id."""
        await self.get_session(session_id).release()

    async def contains_key(self, session_id: int, key_id: bytes) -> bool:
        """:meth:`KeySession.contains_key` by id."""
        return await self.get_session(session_id).contains_key(key_id)

    async def select_key_id(self, session_id: int, key_id: bytes) -> None:
        """:meth:`KeySession.select_key_id` by id."""
        await self.get_session(session_id).select_key_id(key_id)

    async def set_drm_header(self, session_id: int, header: bytes) -> None:
        """:meth:`KeySession.set_drm_header` by id."""
        await self.get_session(session_id).set_drm_header(header)

    async def get_last_drm_error(self, session_id: int) -> int:
        """:meth:`KeySession.get_last_drm_error` by id."""
        return await self.get_session(session_id).get_last_drm_error()

    async def get_cdm_key_session_id(self, session_id: int) -> str:
        """:meth:`KeySession.get_cdm_key_session_id` by id."""
        return await self.get_session(session_id).get_cdm_key_session_id()

    async def decrypt(self, session_id: int, buffer: Any, params: DecryptParams) -> None:
        """:meth:`KeySession.decrypt` by id (also for sessions released with references held)."""
        await self._session_for_decrypt(session_id).decrypt(buffer, params)

    async def decrypt_many(
        self, session_id: int, samples: Iterable[tuple[Any, DecryptParams]]
    ) -> None:
        """:meth:`KeySession.decrypt_many` by id (also for sessions released with references)."""
        await self._session_for_decrypt(session_id).decrypt_many(samples)

    def _session_for_decrypt(self, session_id: int) -> KeySession:
        session = self._sessions.get(session_id)
        if session is None:
            session = next((s for s in self._held if s.id == session_id), None)
        if session is None:
            raise BadSessionIdError(f"no key session {session_id!r} in {self.key_system} MediaKeys")
        return session

    # -- system-level calls ------------------------------------------------------------------

    async def get_version(self) -> str:
        """Return the CDM's version string for this key system."""
        return str(await self._system_call("drm_get_version"))

    async def supports_server_certificate(self) -> bool:
        """Tell whether the CDM accepts a server certificate."""
        return bool(await self._system_call("drm_supports_server_certificate"))

    async def set_server_certificate(self, certificate: bytes) -> None:
        """Give the CDM a server certificate (``NotSupportedError`` if it takes none)."""
        data = require_bytes(certificate, "server certificate")
        await self._system_call("drm_set_server_certificate", certificate=data)

    async def delete_drm_store(self) -> None:
        """Delete the key system's DRM (secure) store."""
        await self._system_call("drm_delete_drm_store")

    async def delete_key_store(self) -> None:
        """Delete the key system's key store."""
        await self._system_call("drm_delete_key_store")

    async def get_drm_store_hash(self) -> bytes:
        """Return the DRM store hash."""
        return bytes(await self._system_call("drm_get_drm_store_hash"))

    async def get_key_store_hash(self) -> bytes:
        """Return the key store hash."""
        return bytes(await self._system_call("drm_get_key_store_hash"))

    async def get_drm_time(self) -> int:
        """Return the DRM clock."""
        return int(await self._system_call("drm_get_drm_time"))

    async def get_ldl_session_limit(self) -> int:
        """Return the limited-duration-license session limit."""
        return int(await self._system_call("drm_get_ldl_session_limit"))

    async def get_metric_system_data(self) -> bytes:
        """Return the CDM's metric data (``BufferTooSmallError`` if it does not fit)."""
        return bytes(await self._system_call("drm_get_metric_system_data"))

    # -- lifetime ----------------------------------------------------------------------------

    async def destroy(self) -> None:
        """Release every session (ignoring decrypt references) and destroy the CDM system.

        Idempotent. Afterwards every call raises ``InvalidStateError``.
        """
        if self._destroyed:
            return
        self._destroyed = True
        sessions = [*self._sessions.values(), *self._held]
        self._sessions.clear()
        self._held.clear()
        await asyncio.gather(*(s._force_release() for s in sessions), return_exceptions=True)
        try:
            await self._wait(
                self._executor.submit(
                    partial(self._route.call, "drm_destroy_system", system=self._system)
                ),
                "drm_destroy_system",
            )
        except DrmError as exc:
            log.warning("destroying the %s system failed: %s", self.key_system, exc)
        for task in list(self._tasks):
            task.cancel()
        self._factory._media_keys_destroyed(self)

    async def __aenter__(self) -> MediaKeys:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.destroy()

    # -- internals used by KeySession and the factory ----------------------------------------

    async def _open(self) -> None:
        await self._system_call("drm_create_system")

    def _check_open(self) -> None:
        if self._destroyed:
            raise InvalidStateError(f"the {self.key_system} MediaKeys was destroyed")

    async def _system_call(self, hook: str, **kwargs: Any) -> Any:
        self._check_open()
        future = self._executor.submit(
            partial(self._route.call, hook, system=self._system, **kwargs)
        )
        return await self._wait(future, hook)

    async def _wait(self, future: asyncio.Future[Any], hook: str) -> Any:
        # What ``asyncio.wait_for`` does, minus its second future and the extra turn of the loop
        # it costs on every CDM call: a timer cancels the job's future with a marker message.
        timeout = self._factory.operation_timeout
        timer = self._loop.call_later(timeout, future.cancel, _TIMED_OUT)
        try:
            return await future
        except asyncio.CancelledError as exc:
            if exc.args != (_TIMED_OUT,):
                raise
            raise OperationTimeoutError(
                f"{hook} on {self.key_system} did not finish within {timeout} s"
            ) from None
        finally:
            timer.cancel()

    def _forget(self, session: KeySession) -> None:
        # The id becomes unknown at once; the object lives on while decrypts hold it.
        if self._sessions.pop(session.id, None) is not None and session.decrypt_references:
            self._held.add(session)

    def _session_freed(self, session: KeySession) -> None:
        self._sessions.pop(session.id, None)
        self._held.discard(session)
        self._factory._session_freed()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = self._loop.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
