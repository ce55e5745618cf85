"""The Netflix DPI facade: the Netflix-facing DRM calls on top of drmkit's media-key API.

The Netflix player speaks a pull model (``createDrmSession``, ``getChallengeData``,
``storeLicenseData``, ``initDecryptContextByKid``, ``hasLicense``); drmkit's API is EME-like and
event-driven. This module maps one onto the other for ``com.netflix.playready``, as rialto-ocdm
does between the OCDM ABI and Rialto:

- :meth:`NetflixDpi.create_drm_session` creates a key session and sets the DRM header (queued by
  the plugin until the CDM session exists);
- :meth:`DpiDrmSession.get_challenge_data` **blocks until the license request arrives**, bounded:
  it waits up to ``previous_wait`` (250 ms) for a challenge still in flight from an earlier call
  and drops it, issues ``generate_request`` with the LDL state, then waits up to ``request_wait``
  (1 s) for the new challenge. A timeout raises :class:`ChallengeTimeoutError`; it never hangs
  (rialto-ocdm deadlocked here before it bounded the waits);
- :meth:`DpiDrmSession.store_license_data` is ``update`` (the plugin calls
  ``store_license_data``), :meth:`~DpiDrmSession.init_decrypt_context_by_kid` is
  ``select_key_id``, :meth:`~DpiDrmSession.has_license` is ``contains_key``;
- :meth:`DpiDrmSession.close` (also on context exit and, best effort, on garbage collection)
  closes (``cancel_challenge_data`` + ``clean_decrypt_context``) and releases the session; later
  calls raise :class:`~drmkit.errors.InvalidStateError`.

Threading: the facade is synchronous. The async media-key objects (the in-process core's
``MediaKeys``, or ``drmkit.client``'s, which has the same API) live on a
:class:`~drmkit.core.sync.SyncRunner` loop; every facade call blocks the calling thread until the
loop has done the work (bounded by ``call_timeout``). Calls on one session are serialised by a
per-session lock; different sessions may be used from different threads at once. Never call the
facade from the runner's loop thread (e.g. from a listener): it would deadlock, and
:class:`~drmkit.core.sync.SyncRunner` refuses.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from drmkit.sdk import (
    DecryptParams,
    DrmError,
    FailError,
    InvalidStateError,
    KeySessionType,
    KeyStatus,
    LimitedDurationLicense,
)

from drmkit_playready_netflix.keysystems import NETFLIX

T = TypeVar("T")
PREVIOUS_CHALLENGE_WAIT_S = 0.25
"""How long a challenge fetch waits for one still in flight (rialto-ocdm: 250 ms)."""
CHALLENGE_WAIT_S = 1.0
"""How long a challenge fetch waits for the new license request (rialto-ocdm: 1 s)."""
CALL_TIMEOUT_S = 10.0
"""Upper bound of any other blocking call."""


class Runner(Protocol):
    """Runs coroutines on an event loop for blocking callers (e.g. :class:`SyncRunner`)."""

    loop: asyncio.AbstractEventLoop

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coroutine`` on :attr:`loop` and block until its result."""
        ...


class LoopRunner:
    """A :class:`Runner` over an event loop that already runs on another thread.

    For async applications that use the facade from worker threads (``asyncio.to_thread``).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coroutine`` on the loop and block until its result."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            coroutine.close()
            raise RuntimeError("a blocking call from the loop's own thread would deadlock")
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


class ChallengeTimeoutError(FailError):
    """No license request arrived within the bound."""


class DrmHeaderMissingError(InvalidStateError):
    """The DRM session has no DRM header yet (``set_drm_header`` first)."""


@dataclass(frozen=True, slots=True)
class Challenge:
    """A license challenge and the url the CDM suggested (empty for Netflix)."""

    data: bytes
    url: str


class _ChallengeBox:
    """Where the listener (loop thread) leaves challenges for the blocked caller."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.challenge: Challenge | None = None
        self.in_flight = False
        self.statuses: dict[bytes, KeyStatus] = {}

    # MediaKeysListener (runs on the runner's loop thread)
    def on_license_request(self, session_id: int, message: bytes, url: str) -> None:
        self._store(Challenge(bytes(message), url))

    def on_license_renewal(self, session_id: int, message: bytes) -> None:
        self._store(Challenge(bytes(message), ""))

    def on_key_statuses_changed(
        self, session_id: int, key_statuses: tuple[tuple[bytes, KeyStatus], ...]
    ) -> None:
        with self.condition:
            self.statuses.update(dict(key_statuses))

    def wait(
        self, deadline: float, done: Callable[[], bool], failed: Callable[[], bool]
    ) -> Challenge | None:
        """Wait until a challenge is stored and ``done()``, ``failed()``, or ``deadline`` passes.

        Returns the challenge if one arrived (even when ``done()`` is still false at the deadline).
        """
        with self.condition:
            while (self.challenge is None or not done()) and not failed():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.condition.wait(min(remaining, 0.02))
            return self.challenge

    def _store(self, challenge: Challenge) -> None:
        with self.condition:
            self.challenge = challenge
            self.in_flight = False
            self.condition.notify_all()


class DpiDrmSession:
    """One Netflix DRM session (a ``com.netflix.playready`` key session).

    Made by :meth:`NetflixDpi.create_drm_session`; use it as a context manager or call
    :meth:`close`.
    """

    def __init__(
        self,
        dpi: NetflixDpi,
        session: Any,
        box: _ChallengeBox,
        content_id: bytes,
        license_type: KeySessionType,
    ) -> None:
        self._dpi = dpi
        self._session = session
        self._box = box
        self._lock = threading.RLock()
        self._closed = False
        self._header = b""
        self._generated = False
        self._generating: concurrent.futures.Future[None] | None = None
        self.content_id = content_id
        self.license_type = license_type

    # -- properties ------------------------------------------------------------------------

    @property
    def session_id(self) -> int:
        """The drmkit key session id (the DPI handle)."""
        return int(self._session.id)

    @property
    def key_session(self) -> Any:
        """The underlying async key session (for calls the DPI does not name)."""
        return self._session

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran."""
        return self._closed

    @property
    def key_statuses(self) -> dict[bytes, KeyStatus]:
        """The latest status of every key the CDM reported."""
        with self._box.condition:
            return dict(self._box.statuses)

    # -- Netflix calls ---------------------------------------------------------------------

    def set_drm_header(self, drm_header: bytes) -> None:
        """Set (or replace) the DRM header: a PlayReady object or WRMHEADER."""
        with self._lock:
            self._check_open()
            self._call(self._session.set_drm_header(drm_header))
            self._header = bytes(drm_header)

    def get_challenge_data(self, is_ldl: bool = False) -> bytes:
        """Generate a license request and block until it arrives (bounded; see module doc)."""
        with self._lock:
            self._check_open()
            if not self._header:
                raise DrmHeaderMissingError("get_challenge_data needs a DRM header")
            box = self._box
            previous = self._generating
            if previous is not None and not previous.done():
                # rialto-ocdm: wait (bounded) for a challenge still in flight, then drop it.
                concurrent.futures.wait([previous], self._dpi.previous_wait)
                if not previous.done():
                    raise InvalidStateError(
                        "the previous challenge request is still inside the CDM"
                        f" (waited {self._dpi.previous_wait:.3g} s); try again later"
                    )
            with box.condition:
                box.challenge = None
                box.in_flight = True
            ldl = LimitedDurationLicense.ENABLED if is_ldl else LimitedDurationLicense.DISABLED
            generate = asyncio.run_coroutine_threadsafe(self._generate(ldl), self._dpi.runner.loop)
            self._generating = generate
            deadline = time.monotonic() + self._dpi.request_wait
            challenge = box.wait(deadline, generate.done, lambda: _failed(generate))
            if challenge is not None:
                return challenge.data
            if _failed(generate):
                with box.condition:
                    box.in_flight = False
                raise _as_drm_error(generate.exception())
            raise ChallengeTimeoutError(
                f"no license request within {self._dpi.request_wait:.3g} s"
                f" (DRM session {self.session_id})"
            )

    async def _generate(self, ldl: LimitedDurationLicense) -> None:
        await self._session.generate_request("drmheader", self._header, ldl)
        self._generated = True

    def store_license_data(self, license_data: bytes) -> None:
        """Install a license (``store_license_data``; the secure-stop id stays inside)."""
        with self._lock:
            self._check_open()
            if not self._header:
                raise DrmHeaderMissingError("store_license_data needs a DRM header")
            if not self._generated:
                raise InvalidStateError("store_license_data before any get_challenge_data")
            self._call(self._session.update(license_data))

    def init_decrypt_context_by_kid(self, key_id: bytes) -> None:
        """Bind decryption to ``key_id`` (``select_key_id``; the CDM is called on a change only)."""
        with self._lock:
            self._check_open()
            self._call(self._session.select_key_id(key_id))

    def has_license(self, key_id: bytes) -> bool:
        """Tell whether the session holds a license for ``key_id``."""
        with self._lock:
            self._check_open()
            return bool(self._call(self._session.contains_key(key_id)))

    def decrypt(self, buffer: bytearray | memoryview, params: DecryptParams) -> None:
        """Decrypt one sample in place (an empty ``params.key_id`` uses the selected key)."""
        with self._lock:
            self._check_open()
            self._call(self._session.decrypt(buffer, params))

    def close(self) -> None:
        """Close and release the session (idempotent); a failing close is still reported."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self._generated:  # a session that never asked for a license has no CDM state
                    self._call(self._session.close())
            finally:
                self._call(self._session.release())

    def __enter__(self) -> DpiDrmSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_closed", True):
            return
        try:
            self.close()
        except Exception:  # best effort at garbage collection; explicit close reports failures
            return

    # -- helpers ---------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise InvalidStateError(f"DRM session {self.session_id} is closed")

    def _call(self, coroutine: Any) -> Any:
        return self._dpi.run(coroutine)


def _failed(future: concurrent.futures.Future[None]) -> bool:
    return future.done() and not future.cancelled() and future.exception() is not None


def _as_drm_error(exc: BaseException | None) -> DrmError:
    if isinstance(exc, DrmError):
        return exc
    return FailError(f"generate_request failed: {exc!r}")


class NetflixDpi:
    """The Netflix DPI over one ``com.netflix.playready`` MediaKeys.

    ``media_keys`` is an async MediaKeys (core or ``drmkit.client``) whose loop is ``runner``'s.
    """

    def __init__(
        self,
        media_keys: Any,
        runner: Runner,
        *,
        previous_wait: float = PREVIOUS_CHALLENGE_WAIT_S,
        request_wait: float = CHALLENGE_WAIT_S,
        call_timeout: float = CALL_TIMEOUT_S,
    ) -> None:
        # An argument check of this application-facing facade, not plugin behaviour: the DPI's
        # pull model needs the Netflix flow, which only the Netflix key system's plugin runs.
        if media_keys.key_system != NETFLIX:
            raise ValueError(f"the Netflix DPI needs a {NETFLIX} MediaKeys")
        self.media_keys = media_keys
        self.runner = runner
        self.previous_wait = previous_wait
        self.request_wait = request_wait
        self.call_timeout = call_timeout

    @classmethod
    def open(cls, factory: Any, runner: Runner, **options: Any) -> NetflixDpi:
        """Create the ``com.netflix.playready`` MediaKeys with ``factory`` on ``runner``."""
        media_keys = runner.run(factory.create_media_keys(NETFLIX), CALL_TIMEOUT_S)
        return cls(media_keys, runner, **options)

    def run(self, coroutine: Any) -> Any:
        """Run one coroutine on the runner, bounded by ``call_timeout``."""
        try:
            return self.runner.run(coroutine, self.call_timeout)
        except (TimeoutError, concurrent.futures.TimeoutError):
            raise FailError(f"the call did not finish within {self.call_timeout:.3g} s") from None

    def create_drm_session(
        self,
        content_id: bytes | str,
        license_type: KeySessionType = KeySessionType.TEMPORARY,
        drm_header: bytes = b"",
    ) -> DpiDrmSession:
        """Create a DRM session; a non-empty ``drm_header`` is set (queued until construct)."""
        content = content_id.encode() if isinstance(content_id, str) else bytes(content_id)
        box = _ChallengeBox()
        session = self.run(self.media_keys.create_session(KeySessionType(license_type), box))
        drm_session = DpiDrmSession(self, session, box, content, KeySessionType(license_type))
        if drm_header:
            try:
                drm_session.set_drm_header(drm_header)
            except BaseException:
                drm_session.close()
                raise
        return drm_session

    def get_ldl_session_limit(self) -> int:
        """Return how many limited-duration-license sessions the CDM allows."""
        return int(self.run(self.media_keys.get_ldl_session_limit()))

    def get_drm_time(self) -> int:
        """Return the CDM's DRM clock (seconds)."""
        return int(self.run(self.media_keys.get_drm_time()))

    def close(self) -> None:
        """Destroy the MediaKeys (its sessions are released)."""
        self.run(self.media_keys.destroy())

    def __enter__(self) -> NetflixDpi:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
