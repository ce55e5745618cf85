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
from drmkit.srm.errors import SrmErrorCode, SrmProblem, StoreUnavailableError
from drmkit.srm.plugins import content_access_allowed, only_default_content_access
from drmkit.srm.stores.base import Admitted, Identity, SessionRecord, SessionStore

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

    # -- life cycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the store and start the background sweeper."""
        await self.store.open()
        self.start_sweeper()

    async def stop(self) -> None:
        """Stop the sweeper and close the store."""
        await self.stop_sweeper()
        await self.store.close()

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
        result = await self._store_call(
            self.store.admit(
                identity,
                content_id,
                content_type,
                self.default_limit,
                self.timeout_s,
                idempotency_key,
            )
        )
        if not isinstance(result, Admitted):
            raise SrmProblem(SrmErrorCode.LIMIT_REACHED)
        return result

    async def keepalive(self, token: str | None, session_id: uuid.UUID) -> None:
        """Extend the caller's live session or raise ``SRM-0008``."""
        identity = await self.authenticate(token)
        if not await self._store_call(self.store.keepalive(identity.account, session_id)):
            raise SrmProblem(SrmErrorCode.SESSION_NOT_FOUND)

    async def teardown(self, token: str | None, session_id: uuid.UUID) -> None:
        """End the caller's live session or raise ``SRM-0008``."""
        identity = await self.authenticate(token)
        if not await self._store_call(self.store.teardown(identity.account, session_id)):
            raise SrmProblem(SrmErrorCode.SESSION_NOT_FOUND)

    # -- operator operations --------------------------------------------------------------------

    async def list_sessions(self, account: str) -> list[SessionRecord]:
        """Return the account's live sessions."""
        return await self._store_call(self.store.list_sessions(account))

    async def operator_teardown(self, account: str, session_id: uuid.UUID) -> None:
        """End any live session of ``account`` or raise ``SRM-0008``."""
        if not await self._store_call(self.store.teardown(account, session_id)):
            raise SrmProblem(SrmErrorCode.SESSION_NOT_FOUND)
