"""The SRM's business logic, independent of HTTP: auth, limits, content access, admission."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable
from typing import TypeVar

import pluggy
from drmkit.srm.auth import TokenVerifier
from drmkit.srm.errors import (
    OtherDeviceError,
    SrmErrorCode,
    SrmProblem,
    StoreUnavailableError,
)
from drmkit.srm.plugin_manager import content_access_allowed, only_default_content_access
from drmkit.srm.stores.base import Admitted, Denied, Identity, SessionRecord, SessionStore

T = TypeVar("T")

log = logging.getLogger(__name__)


class SrmService:
    """Sessions of accounts: setup, keep-alive, teardown, operator listing, sweeping."""

    def __init__(
        self,
        store: SessionStore,
        verifier: TokenVerifier,
        plugin_manager: pluggy.PluginManager,
        *,
        default_limit: int,
        timeout_s: int,
        store_timeout_s: float = 2.0,
        sweep_interval_s: float = 10.0,
    ) -> None:
        self.store = store
        self.verifier = verifier
        self.plugin_manager = plugin_manager
        self.default_limit = default_limit
        self.timeout_s = timeout_s
        self.store_timeout_s = store_timeout_s
        self.sweep_interval_s = sweep_interval_s
        self._sweeper: asyncio.Task[None] | None = None
        self._undoing: set[asyncio.Task[None]] = set()

    # -- life cycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store and start the background sweeper."""
        await self.store.open()
        self.start_sweeper()

    async def stop(self) -> None:
        """Stop the sweeper, finish undoing failed setups (see ``drain``) and close the store."""
        await self.stop_sweeper()
        await self.drain()
        await self.store.close()

    async def drain(self, timeout_s: float | None = None) -> None:
        """Wait for the undoing of setups answered with an error, then cancel what is left.

        Args:
            timeout_s: longest wait (default: twice ``store_timeout_s``). A session whose undoing
                is cancelled expires after its timeout like any abandoned session.

        """
        pending = set(self._undoing)
        if not pending:
            return
        wait = 2 * self.store_timeout_s if timeout_s is None else timeout_s
        _, late = await asyncio.wait(pending, timeout=wait)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    def start_sweeper(self) -> None:
        """Start the background sweeper (the store must be open)."""
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="srm-sweeper")

    async def stop_sweeper(self) -> None:
        """Stop the background sweeper."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval_s)
            try:
                removed = await self._guard(self.store.reap())
            except StoreUnavailableError as exc:
                log.warning("srm sweep skipped: store unavailable: %s", exc)
                continue
            if removed:
                log.debug("srm sweep removed %d expired sessions", removed)

    # -- helpers --------------------------------------------------------------------------------

    async def _guard(self, operation: Awaitable[T]) -> T:
        """Bound a store call in time; any store failure becomes ``StoreUnavailableError``."""
        try:
            async with asyncio.timeout(self.store_timeout_s):
                return await operation
        except TimeoutError as exc:
            raise StoreUnavailableError("session store did not answer in time") from exc

    async def _store_call(self, operation: Awaitable[T]) -> T:
        try:
            return await self._guard(operation)
        except StoreUnavailableError as exc:
            log.warning("srm store unavailable: %s", exc)
            raise SrmProblem(SrmErrorCode.STORE_UNAVAILABLE) from exc

    async def authenticate(self, token: str | None) -> Identity:
        """Return the identity of a ``Client-Token`` or raise ``SRM-0003``."""
        if not token:
            raise SrmProblem(SrmErrorCode.UNAUTHENTICATED, "Missing Client-Token")
        identity = await self._store_call(self.verifier.verify(token))
        if identity is None:
            raise SrmProblem(SrmErrorCode.UNAUTHENTICATED, "Invalid Client-Token")
        return identity

    async def limit_of(self, account: str) -> int:
        """Return the account's limit (its own, else the default)."""
        own = await self._store_call(self.store.get_account_limit(account))
        return self.default_limit if own is None else own

    # -- client operations ----------------------------------------------------------------------

    async def setup(
        self,
        token: str | None,
        content_id: str,
        content_type: str,
        idempotency_key: str | None = None,
    ) -> Admitted:
        """Admit a session (or replay the one of ``idempotency_key``) or raise ``SrmProblem``."""
        identity = await self.authenticate(token)
        args = (self.plugin_manager, identity.account, identity.device, content_id, content_type)
        try:
            if only_default_content_access(self.plugin_manager):
                allowed = content_access_allowed(*args)  # trivial: skip the thread hop
            else:
                allowed = await asyncio.to_thread(content_access_allowed, *args)
        except Exception as exc:
            log.exception("srm content-access hook failed")
            raise SrmProblem(SrmErrorCode.INTERNAL, "Content access check failed") from exc
        if not allowed:
            raise SrmProblem(SrmErrorCode.CONTENT_DENIED)
        # The id is chosen here, not by the store, so that a setup answered with an error can be
        # undone exactly (``_undo_admission``) whatever the store did with it.
        session_id = uuid.uuid4()
        admission = asyncio.ensure_future(
            self.store.admit(
                identity,
                content_id,
                content_type,
                self.default_limit,
                self.timeout_s,
                idempotency_key,
                session_id=session_id,
            )
        )
        try:
            # Shielded: the time-out ends the wait, not the admission. Cancelling would not stop it
            # either (a SQLite thread runs on, a server that received the command executes it)
            # but would hide its outcome, which the undoing needs.
            result = await self._guard(asyncio.shield(admission))
        except BaseException as exc:
            self._undo_later(admission, identity.account, session_id)
            if isinstance(exc, StoreUnavailableError):
                log.warning("srm store unavailable: %s", exc)
                raise SrmProblem(SrmErrorCode.STORE_UNAVAILABLE) from exc
            raise
        if not isinstance(result, Admitted):
            raise SrmProblem(SrmErrorCode.LIMIT_REACHED)
        return result

    def _undo_later(
        self,
        admission: asyncio.Future[Admitted | Denied],
        account: str,
        session_id: uuid.UUID,
    ) -> None:
        task = asyncio.create_task(
            self._undo_admission(admission, account, session_id), name="srm-undo-admission"
        )
        self._undoing.add(task)
        task.add_done_callback(self._undoing.discard)

    async def _undo_admission(
        self,
        admission: asyncio.Future[Admitted | Denied],
        account: str,
        session_id: uuid.UUID,
    ) -> None:
        """Make a setup answered with an error leave no session behind.

        Why undo rather than bound the store call: no deadline inside a store (SQLite busy
        timeout, PostgreSQL ``statement_timeout``, a Redis script) closes the gap between the
        store committing and its answer reaching the SRM, so the SRM can always answer 503 for
        an admission that did happen. Undoing works for every store and every cause (time-out,
        connection lost after the command was sent). The admission is awaited first: a delete
        that overtook it would find nothing. Until the undo runs, the session holds a slot (the
        SRM may deny, never over-admit); if the store stays unreachable, the session expires
        after its timeout like any abandoned one.
        """
        try:
            # A store call still running after a whole session timeout is stuck: cancel it
            # (drivers abort what they can) and delete by id below in case it went through.
            async with asyncio.timeout(self.timeout_s):
                result = await admission
        except Exception:  # time-out or failure: the outcome is unknown, so delete
            pass
        else:
            if not isinstance(result, Admitted) or result.session_id != session_id:
                return  # denied, or a replay of an earlier session that its client knows
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.timeout_s  # by then the session has expired anyway
        delay = 0.1
        while True:
            try:
                if await self._guard(self.store.discard(account, session_id)):
                    log.warning(
                        "srm setup answered with an error was admitted by the store; "
                        "session %s of account %s removed",
                        session_id,
                        account,
                    )
                return
            except StoreUnavailableError as exc:
                if loop.time() + delay >= give_up:
                    log.warning("srm could not undo session %s: %s", session_id, exc)
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def keepalive(self, token: str | None, session_id: uuid.UUID) -> None:
        """Extend the caller's live session; else SRM-0008 (SRM-0014: another device's)."""
        identity = await self.authenticate(token)
        try:
            found = await self._store_call(
                self.store.keepalive(identity.account, session_id, identity.device)
            )
        except OtherDeviceError as exc:
            raise SrmProblem(SrmErrorCode.OTHER_DEVICE) from exc
        if not found:
            raise SrmProblem(SrmErrorCode.SESSION_NOT_FOUND)

    async def teardown(self, token: str | None, session_id: uuid.UUID) -> None:
        """End the caller's live session; else SRM-0008 (SRM-0014: another device's).

        A session is bound to the device that set it up: another device of the same account
        cannot end it (nor keep it alive); only the operator can end any session.
        """
        identity = await self.authenticate(token)
        try:
            found = await self._store_call(
                self.store.teardown(identity.account, session_id, identity.device)
            )
        except OtherDeviceError as exc:
            raise SrmProblem(SrmErrorCode.OTHER_DEVICE) from exc
        if not found:
            raise SrmProblem(SrmErrorCode.SESSION_NOT_FOUND)

    # -- operator operations --------------------------------------------------------------------

    async def list_sessions(self, account: str) -> list[SessionRecord]:
        """Return the account's live sessions."""
        return await self._store_call(self.store.list_sessions(account))

    async def operator_teardown(self, account: str, session_id: uuid.UUID) -> None:
        """End any live session of ``account`` or raise ``SRM-0008``."""
        if not await self._store_call(self.store.teardown(account, session_id)):
            raise SrmProblem(SrmErrorCode.SESSION_NOT_FOUND)
