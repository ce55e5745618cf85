"""Async SRM client: setup, keep-alive on a monotonic timer, recovery, teardown.

Behaviour (``docs/srm.md``):

* setup succeeds only if the body holds ``successResponse`` (HTTP 200 alone is not enough); it
  carries an ``Idempotency-Key``, so retrying a setup whose answer was lost is safe;
* with a ``timeout``, a keep-alive is sent every ``timeout * keepalive_fraction`` (< 1/2) seconds
  on the monotonic clock; without one, none is sent;
* no response (network error, time-out, 5xx): the same keep-alive is retried with exponential
  backoff while time remains before the session's timeout; after that, set up again;
* an ``errorResponse`` to a keep-alive (e.g. SRM-0008 after an operator teardown or expiry):
  tear down (best effort, 404 ignored) and set up again;
* ``DENIED`` (limit reached, content denied): stop and raise ``SrmDeniedError``, never retry;
* teardown on ``stop()``/``aclose()`` and on ``change_content()``;
* a suspend longer than the timeout (wall clock advanced past the deadline while the monotonic
  clock did not, or a missed monotonic deadline) sets up a new session.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from drmkit.errors import DrmkitError

log = logging.getLogger(__name__)


class SrmClientError(DrmkitError):
    """Base of the client's errors."""


class SrmDeniedError(SrmClientError):
    """The SRM denied the session for a business reason (limit reached, content denied)."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(f"{error_code}: {message}")
        self.error_code = error_code
        self.message = message


class SrmRequestError(SrmClientError):
    """The SRM rejected a request (bad token, malformed request): retrying will not help."""

    def __init__(self, http_status: int, error_code: str, message: str) -> None:
        super().__init__(f"HTTP {http_status} {error_code}: {message}")
        self.http_status = http_status
        self.error_code = error_code
        self.message = message


class SrmUnavailableError(SrmClientError):
    """The SRM did not answer (network error, time-out or 5xx) after the allowed attempts."""


class SrmProtocolError(SrmClientError):
    """The SRM answered something that is neither a ``successResponse`` nor an ``errorResponse``."""


@dataclass(frozen=True)
class ClientTiming:
    """Timers and retry policy of the client."""

    #: Per-request time limit (seconds); a keep-alive's is also capped by the time left.
    request_timeout_s: float = 5.0
    #: Keep-alive period as a fraction of the session timeout; must be below 1/2.
    keepalive_fraction: float = 1 / 3
    #: First and largest backoff between retries (seconds).
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 5.0
    #: Attempts of one setup call when the SRM does not answer.
    setup_attempts: int = 3

    def __post_init__(self) -> None:
        if not 0 < self.keepalive_fraction < 0.5:
            raise ValueError("keepalive_fraction must be in (0, 0.5)")


class ClientEvent(enum.Enum):
    """What the client reports to its listener."""

    SETUP = "setup"
    KEEPALIVE = "keepalive"
    KEEPALIVE_RETRY = "keepalive-retry"
    RESETUP = "resetup"
    TEARDOWN = "teardown"
    FAILED = "failed"


Listener = Callable[[ClientEvent, dict[str, Any]], None]


@dataclass
class _Session:
    session_id: str
    timeout_s: int | None
    content_id: str
    content_type: str
    last_ok_mono: float
    last_ok_wall: float


class _Outcome(enum.Enum):
    OK = "ok"
    ERROR_RESPONSE = "error-response"
    NO_RESPONSE = "no-response"


class SrmClient:
    """One playback's SRM session, kept alive in the background.

    Use as ``async with SrmClient(url, token) as srm: await srm.start("100001V3D", "COD")``.
    """

    def __init__(
        self,
        base_url: str,
        client_token: str,
        *,
        http: httpx.AsyncClient | None = None,
        timing: ClientTiming | None = None,
        listener: Listener | None = None,
        api_prefix: str = "/srm/v1",
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._base = base_url.rstrip("/") + api_prefix
        self._token = client_token
        self._own_http = http is None
        self._http = http or httpx.AsyncClient()
        self.timing = timing or ClientTiming()
        self._listener = listener
        self._mono = monotonic
        self._wall = wall
        self._session: _Session | None = None
        self._task: asyncio.Task[None] | None = None
        self._failure: asyncio.Future[BaseException] | None = None

    # -- public API -----------------------------------------------------------------------------

    @property
    def session_id(self) -> str | None:
        """The current session's id, or ``None``."""
        return self._session.session_id if self._session else None

    @property
    def timeout_s(self) -> int | None:
        """The current session's keep-alive timeout (``None``: keep-alives disabled)."""
        return self._session.timeout_s if self._session else None

    @property
    def failure(self) -> BaseException | None:
        """Why the background keep-alive gave up (e.g. ``SrmDeniedError``), if it did."""
        if self._failure is not None and self._failure.done():
            return self._failure.result()
        return None

    async def wait_failure(self) -> BaseException:
        """Wait until the background keep-alive gives up and return why."""
        if self._failure is None:
            self._failure = asyncio.get_running_loop().create_future()
        return await self._failure

    async def start(self, content_id: str, content_type: str) -> str:
        """Set up a session for the content and start keeping it alive; return its id.

        Raises:
            SrmDeniedError: limit reached or content denied (do not retry in a loop).
            SrmRequestError: the token or request was rejected.
            SrmUnavailableError: the SRM did not answer.

        """
        if self._session is not None:
            raise SrmClientError("a session is already running; use change_content()")
        if self._failure is None or self._failure.done():
            self._failure = asyncio.get_running_loop().create_future()
        self._session = await self._setup(content_id, content_type)
        self._emit(ClientEvent.SETUP, session_id=self._session.session_id)
        self._task = asyncio.create_task(self._keepalive_loop(), name="srm-keepalive")
        return self._session.session_id

    async def change_content(self, content_id: str, content_type: str) -> str:
        """Tear the current session down and set up one for the new content."""
        await self.stop()
        return await self.start(content_id, content_type)

    async def stop(self) -> None:
        """Stop the keep-alive timer, then tear the session down (best effort)."""
        await self._stop_timer()
        session, self._session = self._session, None
        if session is not None:
            await self._teardown(session)

    async def aclose(self) -> None:
        """Stop and release the HTTP client (if the client created it)."""
        await self.stop()
        if self._own_http:
            await self._http.aclose()

    async def __aenter__(self) -> SrmClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- requests -------------------------------------------------------------------------------

    def _emit(self, event: ClientEvent, **details: Any) -> None:
        if self._listener is not None:
            try:
                self._listener(event, details)
            except Exception:  # a faulty listener must not kill the keep-alive
                log.exception("srm client listener failed")

    @property
    def _headers(self) -> dict[str, str]:
        return {"Client-Token": self._token}

    async def _setup(self, content_id: str, content_type: str) -> _Session:
        # One idempotency key for all attempts of this setup: if an answer is lost, the retry
        # gets the same session back instead of taking a second slot.
        headers = {**self._headers, "Idempotency-Key": uuid.uuid4().hex}
        backoff = self.timing.backoff_initial_s
        last_error: Exception | None = None
        for attempt in range(self.timing.setup_attempts):
            if attempt:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.timing.backoff_max_s)
            try:
                response = await self._http.post(
                    f"{self._base}/sessions",
                    json={"content": {"contentID": content_id, "contentType": content_type}},
                    headers=headers,
                    timeout=self.timing.request_timeout_s,
                )
            except httpx.TransportError as exc:
                last_error = exc
                continue
            if response.status_code >= 500:
                last_error = SrmUnavailableError(f"HTTP {response.status_code}")
                continue
            return self._parse_setup(response, content_id, content_type)
        raise SrmUnavailableError(f"SRM setup failed: {last_error}") from last_error

    def _parse_setup(
        self, response: httpx.Response, content_id: str, content_type: str
    ) -> _Session:
        try:
            body = response.json()
        except ValueError as exc:
            raise SrmProtocolError(f"setup answered HTTP {response.status_code}, not JSON") from exc
        if not isinstance(body, dict):
            raise SrmProtocolError("setup answer is not a JSON object")
        success = body.get("successResponse")
        if response.status_code == 200 and isinstance(success, dict):
            session_id = success.get("sessionId")
            timeout = success.get("timeout")
            if not isinstance(session_id, str):
                raise SrmProtocolError("successResponse without a sessionId")
            try:
                uuid.UUID(session_id)
            except ValueError as exc:
                raise SrmProtocolError(f"sessionId {session_id!r} is not a UUID") from exc
            if timeout is not None and (
                not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 1
            ):
                raise SrmProtocolError(f"invalid timeout {timeout!r}")
            return _Session(
                session_id=session_id,
                timeout_s=timeout,
                content_id=content_id,
                content_type=content_type,
                last_ok_mono=self._mono(),
                last_ok_wall=self._wall(),
            )
        error = body.get("errorResponse")
        if isinstance(error, dict):
            code = str(error.get("errorCode", ""))
            message = str(error.get("errorMessage", ""))
            if error.get("status") == "DENIED":
                raise SrmDeniedError(code, message)
            raise SrmRequestError(response.status_code, code, message)
        raise SrmProtocolError(f"HTTP {response.status_code} without successResponse")

    async def _keepalive_once(self, session: _Session, limit_s: float) -> _Outcome:
        try:
            response = await self._http.put(
                f"{self._base}/sessions/{session.session_id}",
                headers=self._headers,
                timeout=max(0.05, min(self.timing.request_timeout_s, limit_s)),
            )
        except httpx.TransportError:
            return _Outcome.NO_RESPONSE
        if response.status_code >= 500:
            # 503: the SRM's store is away; like no answer, the session may still be live.
            return _Outcome.NO_RESPONSE
        if response.status_code == 200:
            return _Outcome.OK
        return _Outcome.ERROR_RESPONSE

    async def _teardown(self, session: _Session) -> None:
        """Tear down; errors are ignored (404: already gone; otherwise it will expire)."""
        try:
            response = await self._http.delete(
                f"{self._base}/sessions/{session.session_id}",
                headers=self._headers,
                timeout=self.timing.request_timeout_s,
            )
            self._emit(
                ClientEvent.TEARDOWN, session_id=session.session_id, status=response.status_code
            )
        except httpx.TransportError as exc:
            self._emit(ClientEvent.TEARDOWN, session_id=session.session_id, error=str(exc))

    # -- background keep-alive ------------------------------------------------------------------

    async def _stop_timer(self) -> None:
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _presumed_expired(self, session: _Session) -> bool:
        """Tell whether the session's timeout has passed on either clock (suspend, stall)."""
        assert session.timeout_s is not None
        elapsed = max(self._mono() - session.last_ok_mono, self._wall() - session.last_ok_wall)
        return elapsed >= session.timeout_s

    async def _keepalive_loop(self) -> None:
        try:
            while self._session is not None and self._session.timeout_s is not None:
                session = self._session
                assert session.timeout_s is not None
                period = session.timeout_s * self.timing.keepalive_fraction
                await asyncio.sleep(max(0.0, session.last_ok_mono + period - self._mono()))
                if self._presumed_expired(session):
                    await self._resetup(session, "suspended past the timeout")
                    continue
                await self._keep_alive(session)
        except SrmClientError as exc:
            self._session = None
            self._emit(ClientEvent.FAILED, error=exc)
            if self._failure is not None and not self._failure.done():
                self._failure.set_result(exc)

    async def _keep_alive(self, session: _Session) -> None:
        assert session.timeout_s is not None
        deadline = session.last_ok_mono + session.timeout_s
        backoff = self.timing.backoff_initial_s
        while True:
            remaining = deadline - self._mono()
            outcome = await self._keepalive_once(session, remaining)
            if outcome is _Outcome.OK:
                session.last_ok_mono = self._mono()
                session.last_ok_wall = self._wall()
                self._emit(ClientEvent.KEEPALIVE, session_id=session.session_id)
                return
            if outcome is _Outcome.ERROR_RESPONSE:
                await self._resetup(session, "keep-alive answered with an errorResponse")
                return
            remaining = deadline - self._mono()
            if remaining <= 0:
                await self._resetup(session, "no keep-alive answer before the timeout")
                return
            self._emit(ClientEvent.KEEPALIVE_RETRY, session_id=session.session_id, wait=backoff)
            await asyncio.sleep(min(backoff, remaining))
            backoff = min(backoff * 2, self.timing.backoff_max_s)

    async def _resetup(self, old: _Session, reason: str) -> None:
        """Tear the old session down (ignoring 404) and set up a new one for the same content."""
        await self._teardown(old)
        backoff = self.timing.backoff_initial_s
        while True:
            try:
                fresh = await self._setup(old.content_id, old.content_type)
            except SrmUnavailableError:
                # Playback goes on; keep trying to get a session back, without hammering.
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.timing.backoff_max_s)
                continue
            break
        self._session = fresh
        self._emit(
            ClientEvent.RESETUP,
            old_session_id=old.session_id,
            session_id=fresh.session_id,
            reason=reason,
        )
