"""``KeySession``: one media key session, its state machine, events and decrypt references.

Every operation is checked against the session state on the event loop (a call in the wrong state
raises :class:`~drmkit.errors.InvalidStateError`), then runs the key system's hook on the session's
serial executor: ordered within the session, concurrent with other sessions, never on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from drmkit.core.callbacks import CallbackBridge
from drmkit.core.executor import SerialExecutor
from drmkit.core.listeners import EventStream, deliver_to_listener
from drmkit.core.validation import require_bytes, require_key_id
from drmkit.errors import (
    BadSessionIdError,
    DrmError,
    FailError,
    InvalidInitDataError,
    InvalidInputError,
    InvalidLicenseError,
    InvalidStateError,
    NotSupportedError,
)
from drmkit.events import (
    KeySessionEvent,
    KeyStatus,
    KeyStatusesChanged,
    LicenseRenewal,
    LicenseRequest,
    MediaKeysListener,
    MessageType,
)
from drmkit.sdk import model as plugin_model
from drmkit.types import (
    DecryptParams,
    InitDataType,
    KeySessionType,
    LimitedDurationLicense,
    SessionState,
)

if TYPE_CHECKING:
    from drmkit.core.media_keys import MediaKeys

log = logging.getLogger(__name__)

_LIVE = (SessionState.ACTIVE, SessionState.REMOVED)
_REQUEST_TYPES = (None, MessageType.LICENSE_REQUEST, MessageType.INDIVIDUALIZATION_REQUEST)


class KeySession:
    """A key session of one :class:`~drmkit.core.media_keys.MediaKeys`.

    Created with ``await media_keys.create_session(...)``. Events go to the ``listener`` given at
    creation (or set later with :meth:`set_listener`) and to every :meth:`events` iterator.
    """

    __slots__ = (
        "__weakref__",
        "_bridge",
        "_cdm_closed",
        "_close_pending",
        "_closed",
        "_context",
        "_decrypt_error_logged",
        "_executor",
        "_generating",
        "_key_statuses",
        "_license_requested",
        "_listener",
        "_media_keys",
        "_pending_statuses",
        "_refs",
        "_release_pending",
        "_selected_key_id",
        "_state",
        "_status_jobs",
        "_streams",
        "id",
        "session_type",
    )

    def __init__(
        self,
        media_keys: MediaKeys,
        session_id: int,
        session_type: KeySessionType,
        listener: MediaKeysListener | None,
    ) -> None:
        loop = media_keys._loop
        self._media_keys = media_keys
        self.id = session_id
        self.session_type = session_type
        self._state = SessionState.CREATED
        self._bridge = CallbackBridge(loop, self)
        self._context = plugin_model.SessionContext(
            session_id, session_type, media_keys._system, self._bridge
        )
        self._executor = SerialExecutor(loop, media_keys._pool)
        self._listener = listener
        self._streams: list[EventStream] | None = None
        self._license_requested = False
        self._generating = False
        self._pending_statuses: list[bytes] = []
        self._status_jobs = 0
        self._key_statuses: dict[bytes, KeyStatus] | None = None
        self._refs = 0
        self._close_pending = False
        self._release_pending = False
        self._selected_key_id: bytes | None = None
        self._closed: asyncio.Future[None] | None = None
        self._cdm_closed = False
        self._decrypt_error_logged = False

    def __repr__(self) -> str:
        return (
            f"<KeySession {self.id} {self._media_keys.key_system} {self.state.value}"
            f" refs={self._refs}>"
        )

    # -- public state ------------------------------------------------------------------------

    @property
    def key_system(self) -> str:
        """The key system of the session's MediaKeys."""
        return self._media_keys.key_system

    @property
    def state(self) -> SessionState:
        """The session's state (``RELEASED`` as soon as a release was requested)."""
        return SessionState.RELEASED if self._release_pending else self._state

    @property
    def key_statuses(self) -> dict[bytes, KeyStatus]:
        """The last reported status of every key (a copy; updated by each status batch)."""
        return dict(self._key_statuses or {})

    @property
    def decrypt_references(self) -> int:
        """How many decrypt references are held (close/release wait for zero)."""
        return self._refs

    @property
    def closed(self) -> asyncio.Future[None]:
        """A future resolved once the CDM session is closed or released (after any deferral)."""
        if self._closed is None:
            self._closed = self._media_keys._loop.create_future()
            if self._cdm_closed:
                self._closed.set_result(None)
        return self._closed

    # -- listeners and event streams ---------------------------------------------------------

    def set_listener(self, listener: MediaKeysListener | None) -> None:
        """Replace the session's listener; ``None`` detaches it (no more callbacks to it)."""
        self._listener = listener

    def events(self) -> EventStream:
        """Return a new async iterator over this session's events from now on."""
        stream = EventStream()
        if self._state is SessionState.RELEASED:
            stream.end()
            return stream
        if self._streams is None:
            self._streams = []
        self._streams.append(stream)
        return stream

    # -- operations --------------------------------------------------------------------------

    async def generate_request(
        self,
        init_data_type: InitDataType | str,
        init_data: bytes,
        ldl_state: LimitedDurationLicense = LimitedDurationLicense.NOT_SPECIFIED,
    ) -> None:
        """Start the license exchange; the license request arrives as a :class:`LicenseRequest`.

        Raises ``NotSupportedError`` for an init data type the key system did not declare,
        ``InvalidInitDataError`` for empty, oversized or malformed init data and
        ``InvalidStateError`` if the session already generated a request (unless the key system
        allows repeated requests) or was closed.
        """
        self._check_alive()
        capabilities = self._media_keys.capabilities
        if not isinstance(init_data_type, str):
            raise InvalidInitDataError(f"init data type must be a string, not {init_data_type!r}")
        type_name = str(init_data_type)  # InitDataType is a StrEnum: its str() is the value
        if type_name not in capabilities.init_data_types:
            raise NotSupportedError(
                f"{self.key_system} does not support init data type {type_name!r}"
                f" (supported: {', '.join(sorted(capabilities.init_data_types))})"
            )
        data = require_bytes(init_data, "init data", error=InvalidInitDataError)
        ldl = LimitedDurationLicense(ldl_state)
        repeat_ok = capabilities.repeatable_generate_request and self._state is SessionState.ACTIVE
        if self._generating or not (self._state is SessionState.CREATED or repeat_ok):
            raise InvalidStateError(
                f"generate_request on a session that is {self._state.value}"
                + (" (a request is already in progress)" if self._generating else "")
            )
        self._generating = True
        self._license_requested = True
        try:
            await self._run(
                "drm_generate_request", init_data_type=type_name, init_data=data, ldl_state=ldl
            )
        except BaseException:
            self._license_requested = False
            raise
        finally:
            self._generating = False
        if self._state is SessionState.CREATED:
            self._state = SessionState.ACTIVE

    async def load(self, cdm_session_id: str = "") -> None:
        """Load a persistent session (``cdm_session_id`` from an earlier session, or its own)."""
        self._check_alive()
        if self.session_type is not KeySessionType.PERSISTENT_LICENCE:
            raise NotSupportedError("load needs a persistent-licence session")
        if not isinstance(cdm_session_id, str):
            raise InvalidInputError("cdm_session_id must be a string")
        self._require(SessionState.CREATED, SessionState.ACTIVE, what="load")
        await self._run("drm_load_session", cdm_session_id=cdm_session_id)
        self._state = SessionState.ACTIVE

    async def update(self, response: bytes) -> None:
        """Give the CDM a license, renewal or release acknowledgement.

        Key statuses arrive afterwards as a :class:`KeyStatusesChanged` event. Raises
        ``InvalidLicenseError`` for an empty, oversized or malformed response and
        ``InvalidStateError`` before a generate request or after close.
        """
        self._check_alive()
        data = require_bytes(response, "license response", error=InvalidLicenseError)
        self._require(*_LIVE, what="update")
        await self._run("drm_update_session", response=data)

    async def close(self) -> None:
        """Close the session; deferred (returns at once) while decrypt references are held."""
        self._check_alive()
        self._require(*_LIVE, what="close")
        previous = self._state
        self._state = SessionState.CLOSED
        if self._refs > 0:
            self._close_pending = True
            return
        try:
            await self._run("drm_close_session")
        except BaseException:
            self._state = previous
            raise
        self._resolve_closed()

    async def remove(self) -> None:
        """Remove the stored license; events (e.g. ``RELEASED`` statuses) keep flowing after."""
        self._check_alive()
        self._require(SessionState.ACTIVE, what="remove")
        self._state = SessionState.REMOVED  # messages fired during the call are release ones
        try:
            await self._run("drm_remove_session")
        except BaseException:
            self._state = SessionState.ACTIVE
            raise

    async def release(self) -> None:
        """Free the session; its id is unknown from now on (``BAD_SESSION_ID``).

        Deferred while decrypt references are held: returns at once, and the CDM session is
        closed (if a close is pending) and destructed when the last reference is dropped.
        """
        self._check_alive()
        self._release_pending = True
        self._media_keys._forget(self)
        if self._refs > 0:
            return
        await self._finish_release()

    async def contains_key(self, key_id: bytes) -> bool:
        """Tell whether the session holds ``key_id`` (``False`` before a request or after close)."""
        self._check_alive()
        kid = require_key_id(key_id)
        if self._state not in _LIVE:
            return False
        return bool(await self._run("drm_contains_key", key_id=kid))

    async def select_key_id(self, key_id: bytes) -> None:
        """Select the key later decrypts use (skipped if it is already selected)."""
        self._check_alive()
        kid = require_key_id(key_id)
        self._require(*_LIVE, what="select_key_id")
        if kid == self._selected_key_id:
            return
        await self._run("drm_select_key_id", key_id=kid)
        self._selected_key_id = kid

    async def set_drm_header(self, header: bytes) -> None:
        """Set the DRM header; before the first generate request it is queued by the plugin."""
        self._check_alive()
        data = require_bytes(header, "DRM header")
        self._require(SessionState.CREATED, *_LIVE, what="set_drm_header")
        await self._run("drm_set_drm_header", header=data)

    async def get_last_drm_error(self) -> int:
        """Return the CDM-specific code of the session's last error (0: none)."""
        self._check_alive()
        self._require(*_LIVE, SessionState.CLOSED, what="get_last_drm_error")
        return int(await self._run("drm_get_last_drm_error"))

    async def get_cdm_key_session_id(self) -> str:
        """Return the CDM's own key session id string."""
        self._check_alive()
        self._require(*_LIVE, SessionState.CLOSED, what="get_cdm_key_session_id")
        return str(await self._run("drm_get_cdm_key_session_id"))

    async def decrypt(self, buffer: Any, params: DecryptParams) -> None:
        """Decrypt one sample in place (``buffer``: any writable bytes-like object).

        Holds a decrypt reference for the duration. Raises ``OutputRestrictedError`` on an HDCP
        failure, ``InvalidInputError`` for a read-only buffer or bad parameters, ``FailError``
        when the CDM fails (no usable key, wrong key id, ...).
        """
        self._check_alive(allow_deferred=True)
        view = _sample_view(buffer, params)
        if view is None:
            return
        held_by_caller = self._refs > 0 and (self._close_pending or self._release_pending)
        if not held_by_caller:
            self.acquire_decrypt_reference()
        try:
            await self._run("drm_decrypt", buffer=view, params=params)
        except DrmError as exc:
            self._log_decrypt_error(exc)
            raise
        else:
            self._decrypt_error_logged = False
        finally:
            if not held_by_caller:
                self.release_decrypt_reference()

    async def decrypt_many(self, samples: Iterable[tuple[Any, DecryptParams]]) -> None:
        """Decrypt several samples in place, in order, as one job of the session's worker.

        ``samples`` holds ``(buffer, params)`` pairs, each as :meth:`decrypt` takes them. Every
        sample still goes through the key system's ``drm_decrypt`` hook (one hook call each, with
        the metrics and logging wrappers); what is saved is the hand-over to the worker thread and
        back, once per batch instead of once per sample. All pairs are checked before any is
        decrypted; the first failing sample stops the batch with the error :meth:`decrypt` would
        raise (samples before it are decrypted, later ones untouched; a note on the exception
        names the sample's index). Holds a decrypt reference for the duration.
        """
        self._check_alive(allow_deferred=True)
        batch: list[tuple[int, memoryview, DecryptParams]] = []
        for index, (buffer, params) in enumerate(samples):
            view = _sample_view(buffer, params)
            if view is not None:
                batch.append((index, view, params))
        if not batch:
            return
        held_by_caller = self._refs > 0 and (self._close_pending or self._release_pending)
        if not held_by_caller:
            self.acquire_decrypt_reference()
        try:
            future = self._executor.submit(partial(self._decrypt_batch_on_worker, batch))
            await self._media_keys._wait(future, "drm_decrypt")
        except DrmError as exc:
            self._log_decrypt_error(exc)
            raise
        else:
            self._decrypt_error_logged = False
        finally:
            if not held_by_caller:
                self.release_decrypt_reference()

    def _decrypt_batch_on_worker(self, batch: list[tuple[int, memoryview, DecryptParams]]) -> None:
        call = self._call_on_worker
        for index, view, params in batch:
            try:
                call("drm_decrypt", {"buffer": view, "params": params})
            except DrmError as exc:
                exc.add_note(f"sample {index} of a batch of {len(batch)}")
                raise

    def _log_decrypt_error(self, error: DrmError) -> None:
        if not self._decrypt_error_logged:  # once per failing streak, not once per sample
            self._decrypt_error_logged = True
            log.warning("decrypt failed in session %d: %s", self.id, error)

    # -- decrypt references (deferral of close and release) ----------------------------------

    def acquire_decrypt_reference(self) -> None:
        """Hold the session open for decrypting (Rialto's per-buffer usage counter)."""
        self._check_alive()
        self._require(*_LIVE, what="acquire_decrypt_reference")
        self._refs += 1

    def release_decrypt_reference(self) -> None:
        """Drop a reference; at zero, run a deferred close and/or release."""
        if self._refs <= 0:
            raise InvalidStateError("no decrypt reference is held")
        self._refs -= 1
        if self._refs == 0 and (self._close_pending or self._release_pending):
            self._media_keys._spawn(self._run_deferred())

    @contextlib.asynccontextmanager
    async def decrypt_reference(self) -> AsyncIterator[KeySession]:
        """``async with session.decrypt_reference():`` holds the session while decrypting."""
        self.acquire_decrypt_reference()
        try:
            yield self
        finally:
            self.release_decrypt_reference()

    # -- internals ---------------------------------------------------------------------------

    def _check_alive(self, *, allow_deferred: bool = False) -> None:
        if self._state is SessionState.RELEASED or (
            self._release_pending and not (allow_deferred and self._refs > 0)
        ):
            raise BadSessionIdError(f"key session {self.id} was released")
        self._media_keys._check_open()

    def _require(self, *states: SessionState, what: str) -> None:
        if self._state not in states:
            raise InvalidStateError(
                f"{what} is not allowed on a session that is {self._state.value}"
            )

    def _call_on_worker(self, hook: str, kwargs: dict[str, Any]) -> Any:
        bridge = self._bridge
        bridge.begin_operation()
        try:
            result = self._media_keys._route.call(hook, session=self._context, **kwargs)
        except DrmError as exc:
            error = bridge.end_operation()
            if error is not None:  # keep the status, add what the CDM said
                raise type(exc)(f"{exc.message}; CDM error callback: {error}") from exc
            raise
        except BaseException:
            bridge.end_operation()
            raise
        error = bridge.end_operation()
        if error is not None:
            raise FailError(f"{hook}: the CDM reported an error during the call: {error}")
        return result

    async def _run(self, hook: str, **kwargs: Any) -> Any:
        future = self._executor.submit(partial(self._call_on_worker, hook, kwargs))
        return await self._media_keys._wait(future, hook)

    async def _run_deferred(self) -> None:
        if self._close_pending:
            self._close_pending = False
            try:
                await self._run("drm_close_session")
            except DrmError as exc:
                log.warning("deferred close of session %d failed: %s", self.id, exc)
            self._resolve_closed()
        if self._release_pending:
            await self._finish_release()

    async def _finish_release(self) -> None:
        if self._state is SessionState.RELEASED:
            return
        self._state = SessionState.RELEASED
        try:
            await self._run("drm_release_session")
        except DrmError as exc:
            log.warning("release of session %d failed: %s", self.id, exc)
        finally:
            self._bridge.detach()
            self._release_pending = True
            self._end_streams()
            self._resolve_closed()
            self._media_keys._session_freed(self)

    async def _force_release(self) -> None:
        """Release now, ignoring decrypt references (MediaKeys destroy, Inactive)."""
        self._release_pending = True
        self._close_pending = False
        self._refs = 0
        await self._finish_release()

    def _resolve_closed(self) -> None:
        self._cdm_closed = True
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    def _end_streams(self) -> None:
        if self._streams:
            for stream in self._streams:
                stream.end()
        self._streams = None

    def _emit(self, event: KeySessionEvent) -> None:
        if self._state is SessionState.RELEASED:
            return
        if self._listener is not None:
            deliver_to_listener(self._listener, event)
        if self._streams:
            for stream in self._streams:
                stream.push(event)

    # CDM callbacks, already on the loop (see CallbackBridge).

    def _on_challenge(
        self, url: str, challenge: bytes, message_type: MessageType | None = None
    ) -> None:
        event: KeySessionEvent
        # An individualization request comes before the license request it makes possible.
        if self._license_requested and message_type in _REQUEST_TYPES:
            if message_type is not MessageType.INDIVIDUALIZATION_REQUEST:
                self._license_requested = False
            kind = message_type or MessageType.LICENSE_REQUEST
            event = LicenseRequest(self.id, challenge, url, kind)
        else:
            if message_type is None:  # after remove, an unsolicited message is the release one
                removed = self._state is SessionState.REMOVED
                message_type = (
                    MessageType.LICENSE_RELEASE if removed else MessageType.LICENSE_RENEWAL
                )
            event = LicenseRenewal(self.id, challenge, message_type)
        if self._status_jobs:
            # A key-status batch is still being read on the worker: keep the CDM's order.
            marker = self._executor.submit(_nothing)
            marker.add_done_callback(lambda _: self._emit(event))
        else:
            self._emit(event)

    def _on_key_update(self, key_id: bytes) -> None:
        if self._state is not SessionState.RELEASED:
            self._pending_statuses.append(key_id)

    def _on_keys_updated(self) -> None:
        if self._state is SessionState.RELEASED:
            return
        batch, self._pending_statuses = self._pending_statuses, []
        # The statuses are read on the worker, after the operation in progress (never from
        # inside the CDM callback), as Rialto reads them at task time: one job per batch.
        self._status_jobs += 1
        job = self._executor.submit(partial(self._read_statuses, batch))
        job.add_done_callback(self._emit_batch)

    def _read_statuses(self, key_ids: list[bytes]) -> list[tuple[bytes, KeyStatus]]:
        return [(key_id, self._read_status(key_id)) for key_id in key_ids]

    def _read_status(self, key_id: bytes) -> KeyStatus:
        try:
            status = self._media_keys._route.call(
                "drm_get_key_status", session=self._context, key_id=key_id
            )
            return KeyStatus(status)
        except Exception as exc:
            log.warning("key status of session %d unavailable: %s", self.id, exc)
            return KeyStatus.INTERNAL_ERROR

    def _emit_batch(self, job: asyncio.Future[list[tuple[bytes, KeyStatus]]]) -> None:
        self._status_jobs -= 1
        if job.cancelled() or job.exception() is not None:
            log.warning("key statuses of session %d could not be read", self.id)
            return
        pairs = job.result()
        if self._key_statuses is None:
            self._key_statuses = {}
        for key_id, status in pairs:
            self._key_statuses[key_id] = status
        self._emit(KeyStatusesChanged(self.id, tuple(pairs)))


def _nothing() -> None:
    return None


def _sample_view(buffer: Any, params: DecryptParams) -> memoryview | None:
    """Check one sample of a decrypt call; return its flat byte view (``None``: empty, skip)."""
    try:
        view = memoryview(buffer)
    except TypeError as exc:
        raise InvalidInputError(f"decrypt buffer is not bytes-like: {exc}") from None
    if view.readonly:
        raise InvalidInputError("decrypt buffer is read-only")
    if not isinstance(params, DecryptParams):
        raise InvalidInputError("params must be a DecryptParams")
    if view.nbytes == 0:
        return None
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view
