"""``RemoteKeySession``: a key session of the session server, with the API of the core's.

State, key statuses and decrypt references are mirrored on the client from the replies and
notifications of the server, which stays the authority (it answers every operation).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from drmkit.core.listeners import EventStream, deliver_to_listener

# The core's own per-sample check, so that both APIs refuse the same buffers the same way.
from drmkit.core.session import _sample_view
from drmkit.core.validation import require_bytes, require_key_id
from drmkit.errors import (
    BadSessionIdError,
    InvalidInitDataError,
    InvalidInputError,
    InvalidLicenseError,
    InvalidStateError,
)
from drmkit.events import KeySessionEvent, KeyStatus, KeyStatusesChanged, MediaKeysListener
from drmkit.ipc.codec import MAX_DECRYPT_BATCH, b64encode
from drmkit.types import (
    DecryptParams,
    InitDataType,
    KeySessionType,
    LimitedDurationLicense,
    SessionState,
)

if TYPE_CHECKING:
    from drmkit.client.media_keys import RemoteMediaKeys

_LIVE = (SessionState.ACTIVE, SessionState.REMOVED)


class RemoteKeySession:
    """A key session served by the session server (see :class:`drmkit.core.KeySession`)."""

    def __init__(
        self,
        media_keys: RemoteMediaKeys,
        session_id: int,
        session_type: KeySessionType,
        listener: MediaKeysListener | None,
    ) -> None:
        self._media_keys = media_keys
        self.id = session_id
        self.session_type = session_type
        self._listener = listener
        self._state = SessionState.CREATED
        self._release_requested = False
        self._streams: list[EventStream] = []
        self._key_statuses: dict[bytes, KeyStatus] = {}
        self._refs = 0
        self._closed: asyncio.Future[None] | None = None
        self._cdm_closed = False
        self._freed = False

    def __repr__(self) -> str:
        return (
            f"<RemoteKeySession {self.id} {self.key_system} {self.state.value} refs={self._refs}>"
        )

    # -- public state ------------------------------------------------------------------------

    @property
    def key_system(self) -> str:
        """The key system of the session's MediaKeys."""
        return self._media_keys.key_system

    @property
    def state(self) -> SessionState:
        """The session's state (``RELEASED`` as soon as a release was requested)."""
        return SessionState.RELEASED if self._release_requested else self._state

    @property
    def key_statuses(self) -> dict[bytes, KeyStatus]:
        """The last reported status of every key (a copy)."""
        return dict(self._key_statuses)

    @property
    def decrypt_references(self) -> int:
        """Decrypt references this client holds on the session."""
        return self._refs

    @property
    def closed(self) -> asyncio.Future[None]:
        """Resolved once the server closed or released the CDM session (after any deferral)."""
        if self._closed is None:
            self._closed = asyncio.get_running_loop().create_future()
            if self._cdm_closed:
                self._closed.set_result(None)
        return self._closed

    # -- listeners and events ----------------------------------------------------------------

    def set_listener(self, listener: MediaKeysListener | None) -> None:
        """Replace the listener; ``None`` detaches it."""
        self._listener = listener

    def events(self) -> EventStream:
        """Return a new async iterator over this session's events from now on."""
        stream = EventStream()
        if self._freed:
            stream.end()
        else:
            self._streams.append(stream)
        return stream

    # -- operations --------------------------------------------------------------------------

    def _params(self, **extra: Any) -> dict[str, Any]:
        return {"media_keys_handle": self._media_keys.handle, "key_session_id": self.id, **extra}

    async def _call(self, method: str, **extra: Any) -> Any:
        return await self._media_keys._call(method, self._params(**extra))

    async def generate_request(
        self,
        init_data_type: InitDataType | str,
        init_data: bytes,
        ldl_state: LimitedDurationLicense = LimitedDurationLicense.NOT_SPECIFIED,
    ) -> None:
        """Start the license exchange; the request arrives as a ``LicenseRequest`` event."""
        self._check_alive()
        if not isinstance(init_data_type, str):
            raise InvalidInitDataError(f"init data type must be a string, not {init_data_type!r}")
        data = require_bytes(init_data, "init data", error=InvalidInitDataError)
        await self._call(
            "generate_request",
            init_data_type=str(init_data_type),
            init_data=b64encode(data),
            ldl_state=int(LimitedDurationLicense(ldl_state)),
        )
        if self._state is SessionState.CREATED:
            self._state = SessionState.ACTIVE

    async def load(self, cdm_session_id: str = "") -> None:
        """Load a persistent session."""
        self._check_alive()
        if not isinstance(cdm_session_id, str):
            raise InvalidInputError("cdm_session_id must be a string")
        await self._call("load_session", cdm_session_id=cdm_session_id)
        self._state = SessionState.ACTIVE

    async def update(self, response: bytes) -> None:
        """Give the CDM a license, renewal or release acknowledgement."""
        self._check_alive()
        data = require_bytes(response, "license response", error=InvalidLicenseError)
        await self._call("update_session", response=b64encode(data))

    async def close(self) -> None:
        """Close the session (deferred by the server while decrypt references are held)."""
        self._check_alive()
        closed_now = await self._call("close_key_session")
        self._state = SessionState.CLOSED
        if closed_now:
            self._cdm_closed_event()

    async def remove(self) -> None:
        """Remove the stored license."""
        self._check_alive()
        await self._call("remove_key_session")
        self._state = SessionState.REMOVED

    async def release(self) -> None:
        """Free the session; its id is unknown from now on (deferred while references are held)."""
        self._check_alive()
        await self._call("release_key_session")
        self._release_requested = True
        self._media_keys._forget(self)
        if self._refs == 0:
            self._free()

    async def contains_key(self, key_id: bytes) -> bool:
        """Tell whether the session holds ``key_id``."""
        self._check_alive()
        kid = require_key_id(key_id)
        return bool(await self._call("contains_key", key_id=b64encode(kid)))

    async def select_key_id(self, key_id: bytes) -> None:
        """Select the key later decrypts use."""
        self._check_alive()
        kid = require_key_id(key_id)
        await self._call("select_key_id", key_id=b64encode(kid))

    async def set_drm_header(self, header: bytes) -> None:
        """Set the DRM header."""
        self._check_alive()
        data = require_bytes(header, "DRM header")
        await self._call("set_drm_header", header=b64encode(data))

    async def get_last_drm_error(self) -> int:
        """Return the CDM-specific code of the session's last error."""
        self._check_alive()
        return int(await self._call("get_last_drm_error"))

    async def get_cdm_key_session_id(self) -> str:
        """Return the CDM's own key session id string."""
        self._check_alive()
        return str(await self._call("get_cdm_key_session_id"))

    async def decrypt(self, buffer: Any, params: DecryptParams) -> None:
        """Decrypt one sample in place, through the connection's shared memory."""
        self._check_alive(allow_deferred=True)
        view = _sample_view(buffer, params)
        if view is None:
            return
        await self._media_keys._decrypt(self.id, view, params)

    async def decrypt_many(self, samples: Iterable[tuple[Any, DecryptParams]]) -> None:
        """Decrypt several samples in place, in order, with one request (``decrypt_many``).

        As :meth:`drmkit.core.KeySession.decrypt_many`: ``samples`` holds ``(buffer, params)``
        pairs, all checked before any is decrypted; the first failing sample stops the batch
        with the error :meth:`decrypt` would raise (samples before it are decrypted, later ones
        untouched; a note on the exception names the sample's index). The server holds a
        decrypt reference for the batch. At most ``MAX_DECRYPT_BATCH`` samples per call.
        """
        self._check_alive(allow_deferred=True)
        batch = [(_sample_view(buffer, params), params) for buffer, params in samples]
        if len(batch) > MAX_DECRYPT_BATCH:
            raise InvalidInputError(
                f"a batch holds at most {MAX_DECRYPT_BATCH} samples, not {len(batch)}"
            )
        if any(view is not None for view, _ in batch):
            await self._media_keys._decrypt_many(self.id, batch)

    # -- decrypt references ------------------------------------------------------------------

    def acquire_decrypt_reference(self) -> None:
        """Hold the session open for decrypting (sent to the server in order with calls)."""
        self._check_alive()
        if self._state not in _LIVE:
            raise InvalidStateError(
                f"acquire_decrypt_reference is not allowed on a session that is {self._state.value}"
            )
        self._media_keys._notify("acquire_decrypt_reference", self._params())
        self._refs += 1

    def release_decrypt_reference(self) -> None:
        """Drop a reference; at zero the server runs a deferred close and/or release."""
        if self._refs <= 0:
            raise InvalidStateError("no decrypt reference is held")
        self._refs -= 1
        self._media_keys._notify("release_decrypt_reference", self._params())

    @contextlib.asynccontextmanager
    async def decrypt_reference(self) -> AsyncIterator[RemoteKeySession]:
        """``async with session.decrypt_reference():`` holds the session while decrypting."""
        self.acquire_decrypt_reference()
        try:
            yield self
        finally:
            self.release_decrypt_reference()

    # -- notifications from the connection ---------------------------------------------------

    def _check_alive(self, *, allow_deferred: bool = False) -> None:
        if self._freed or (self._release_requested and not (allow_deferred and self._refs > 0)):
            raise BadSessionIdError(f"key session {self.id} was released")
        self._media_keys._check_open()

    def _emit(self, event: KeySessionEvent) -> None:
        if self._freed:
            return
        if isinstance(event, KeyStatusesChanged):
            self._key_statuses.update(event.key_statuses)
        if self._listener is not None:
            deliver_to_listener(self._listener, event)
        for stream in self._streams:
            stream.push(event)

    def _cdm_closed_event(self) -> None:
        self._cdm_closed = True
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
        if self._release_requested:
            self._free()

    def _free(self) -> None:
        """Mark the session freed by the server (released, destroyed, Inactive, disconnected)."""
        if self._freed:
            return
        self._freed = True
        self._release_requested = True
        self._state = SessionState.RELEASED
        for stream in self._streams:
            stream.end()
        self._streams = []
        self._cdm_closed = True
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
        self._media_keys._drop_route(self)
