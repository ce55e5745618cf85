"""A store call that outlives ``store_timeout_s``: the HTTP answer agrees with what the store did.

A setup answered 503 must not leave a session behind (a "phantom" that holds a slot no client
knows about), on every store, whether the late admission comes from a real store being slow
(SQLite write lock held, Redis busy, PostgreSQL account lock held) or from a store wrapper that
finishes the admission after the SRM stopped waiting.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
import redis as sync_redis
from drmkit.srm.errors import StoreUnavailableError
from drmkit.srm.hookspecs import hookimpl
from drmkit.srm.plugin_manager import make_plugin_manager
from drmkit.srm.stores import open_store
from drmkit.srm.stores.base import Admitted, Denied, Identity, SessionRecord, SessionStore
from drmkit.srm.stores.sqlite import SqliteStore

from .conftest import BODY, OPERATOR_TOKEN, Api, error_code, make_api, new_account, success_id

T = TypeVar("T")

STORE_TIMEOUT_S = 0.3
LATE_S = 1.0  # the store finishes this long after the request started


class LateStore(SessionStore):
    """A real store whose first call of some operations takes effect after the SRM stopped waiting.

    The late call is shielded from the caller's cancellation, as a store thread or a store server
    that already received the command keeps going. ``late`` names the operations (``admit``,
    ``keepalive``, ``teardown``) whose next call is late; later calls are immediate.
    ``after_late`` runs once a late call has taken effect, before its result is returned. With
    ``lose_reply`` the call fails after taking effect, as when the connection breaks before the
    answer arrives.
    """

    def __init__(
        self, inner: SessionStore, *late: str, delay_s: float = LATE_S, lose_reply: bool = False
    ) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.late = set(late)
        self.delay_s = delay_s
        self.lose_reply = lose_reply
        self.late_done = asyncio.Event()
        self.late_results: list[Any] = []
        self.after_late: Callable[[Any], Awaitable[None]] | None = None

    async def _maybe_late(self, name: str, call: Callable[[], Awaitable[T]]) -> T:
        if name not in self.late:
            return await call()
        self.late.discard(name)

        async def late() -> T:
            await asyncio.sleep(self.delay_s)
            result = await call()
            self.late_results.append(result)
            if self.after_late is not None:
                await self.after_late(result)
            self.late_done.set()
            if self.lose_reply:  # done in the store, but the answer never reaches the SRM
                raise StoreUnavailableError("connection lost")
            return result

        return await asyncio.shield(asyncio.ensure_future(late()))

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    async def admit(self, *args: Any, **kwargs: Any) -> Admitted | Denied:
        return await self._maybe_late("admit", lambda: self.inner.admit(*args, **kwargs))

    async def keepalive(self, *args: Any, **kwargs: Any) -> bool:
        return await self._maybe_late("keepalive", lambda: self.inner.keepalive(*args, **kwargs))

    async def teardown(self, *args: Any, **kwargs: Any) -> bool:
        return await self._maybe_late("teardown", lambda: self.inner.teardown(*args, **kwargs))

    async def discard(self, account: str, session_id: uuid.UUID) -> bool:
        return await self.inner.discard(account, session_id)

    async def list_sessions(self, account: str) -> list[SessionRecord]:
        return await self.inner.list_sessions(account)

    async def count_live(self, account: str) -> int:
        return await self.inner.count_live(account)

    async def reap(self) -> int:
        return await self.inner.reap()

    async def set_account_limit(self, account: str, limit: int | None) -> None:
        await self.inner.set_account_limit(account, limit)

    async def get_account_limit(self, account: str) -> int | None:
        return await self.inner.get_account_limit(account)

    async def add_token(self, token_hash: str, identity: Identity) -> None:
        await self.inner.add_token(token_hash, identity)

    async def find_token(self, token_hash: str) -> Identity | None:
        return await self.inner.find_token(token_hash)

    async def revoke_token(self, token_hash: str) -> bool:
        return await self.inner.revoke_token(token_hash)


async def listed(api: Api, account: str) -> list[str]:
    """The account's live session ids as the operator API lists them."""
    response = await api.client.get(
        f"/srm/operator/accounts/{account}/sessions",
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
    )
    assert response.status_code == 200, response.text
    return [s["sessionId"] for s in response.json()["sessions"]]


async def settle(api: Api, account: str, expected: list[str], within_s: float = 5.0) -> None:
    """Wait until the operator listing shows exactly ``expected`` (order ignored)."""
    deadline = time.monotonic() + within_s
    while True:
        now = sorted(await listed(api, account))
        if now == sorted(expected):
            return
        assert time.monotonic() < deadline, f"account holds {now}, expected {sorted(expected)}"
        await asyncio.sleep(0.05)


async def assert_full_limit_available(api: Api, token: str, account: str, limit: int) -> None:
    """The client can set up exactly ``limit`` sessions, and the listing shows only those."""
    ids = [success_id(await api.setup(token)) for _ in range(limit)]
    assert error_code(await api.setup(token)) == "SRM-0006"
    assert sorted(await listed(api, account)) == sorted(ids)


@pytest.mark.parametrize("limit", [1, 2])
async def test_setup_answered_503_leaves_no_phantom(store: SessionStore, limit: int) -> None:
    late = LateStore(store, "admit")
    async with make_api(late, default_limit=limit, store_timeout_s=STORE_TIMEOUT_S) as api:
        account = new_account()
        token = await api.token(account)
        response = await api.setup(token)
        assert response.status_code == 503 and error_code(response) == "SRM-0010"
        await asyncio.wait_for(late.late_done.wait(), 10)
        assert isinstance(late.late_results[0], Admitted)  # the store did admit, late
        await settle(api, account, [])
        await assert_full_limit_available(api, token, account, limit)


async def test_setup_whose_answer_is_lost_leaves_no_phantom(store: SessionStore) -> None:
    """The store admitted, then the connection broke: 503, and the session is removed."""
    late = LateStore(store, "admit", delay_s=0, lose_reply=True)
    async with make_api(late, default_limit=2, store_timeout_s=STORE_TIMEOUT_S) as api:
        account = new_account()
        token = await api.token(account)
        response = await api.setup(token)
        assert response.status_code == 503 and error_code(response) == "SRM-0010"
        assert isinstance(late.late_results[0], Admitted)
        await settle(api, account, [])
        await assert_full_limit_available(api, token, account, 2)


async def test_a_late_admission_replayed_to_a_retry_is_kept(store: SessionStore) -> None:
    """A retry with the same idempotency key got the late session: undoing must not remove it."""
    late = LateStore(store, "admit")
    async with make_api(late, default_limit=2, store_timeout_s=STORE_TIMEOUT_S) as api:
        account = new_account()
        token = await api.token(account)
        headers = {"Client-Token": token, "Idempotency-Key": "setup-1"}
        retries: list[Any] = []

        async def retry(_: object) -> None:  # after the store admitted, before the SRM undoes
            retries.append(await api.client.post("/srm/sessions", json=BODY, headers=headers))

        late.after_late = retry
        first = await api.client.post("/srm/sessions", json=BODY, headers=headers)
        assert first.status_code == 503 and error_code(first) == "SRM-0010"
        await asyncio.wait_for(late.late_done.wait(), 10)
        sid = success_id(retries[0])
        assert sid == str(late.late_results[0].session_id)  # the replay of the late admission
        await api.service.drain(timeout_s=10)
        assert await listed(api, account) == [sid]
        assert (await api.keepalive(token, sid)).status_code == 200


async def test_teardown_answered_503_may_have_taken_effect(store: SessionStore) -> None:
    """Documented: a teardown retried after a 503 may answer SRM-0008; the slot is free."""
    late = LateStore(store)
    async with make_api(late, default_limit=1, store_timeout_s=STORE_TIMEOUT_S) as api:
        account = new_account()
        token = await api.token(account)
        sid = success_id(await api.setup(token))
        late.late.add("teardown")
        response = await api.teardown(token, sid)
        assert response.status_code == 503 and error_code(response) == "SRM-0010"
        await asyncio.wait_for(late.late_done.wait(), 10)
        retried = await api.teardown(token, sid)
        assert retried.status_code == 404 and error_code(retried) == "SRM-0008"
        success_id(await api.setup(token))


async def test_keepalive_answered_503_may_have_extended(store: SessionStore) -> None:
    """Documented: a keep-alive answered 503 may still extend the session; a retry answers 200."""
    late = LateStore(store)
    async with make_api(late, default_limit=1, store_timeout_s=STORE_TIMEOUT_S) as api:
        account = new_account()
        token = await api.token(account)
        sid = success_id(await api.setup(token))

        async def expires() -> datetime:
            response = await api.client.get(
                f"/srm/operator/accounts/{account}/sessions",
                headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
            )
            return datetime.fromisoformat(response.json()["sessions"][0]["expires"])

        before = await expires()
        late.late.add("keepalive")
        response = await api.keepalive(token, sid)
        assert response.status_code == 503 and error_code(response) == "SRM-0010"
        await asyncio.wait_for(late.late_done.wait(), 10)
        assert await expires() > before
        assert (await api.keepalive(token, sid)).status_code == 200


# -- real stores being slow (no wrapper) ---------------------------------------------------------


_BUSY_SCRIPT = (
    "local t = redis.call('TIME') local stop = t[1] * 1000000 + t[2] + ARGV[1] "
    "while true do t = redis.call('TIME') "
    "if t[1] * 1000000 + t[2] >= stop then return 1 end end"
)


def hold_store_busy(store: SessionStore, account: str, seconds: float) -> threading.Thread:
    """Make the real store hold the account's admissions for ``seconds``, then let them run.

    SQLite: another connection holds the database write lock (an admission waits in
    ``busy_timeout``). Redis: another client runs a script that keeps the server busy (commands
    queue behind it). PostgreSQL: another connection holds the account's advisory lock. Returns
    the holding thread once the hold is in place.
    """
    started = threading.Event()

    def hold() -> None:
        if isinstance(store, SqliteStore):
            conn = sqlite3.connect(store.path, isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            started.set()
            time.sleep(seconds)
            conn.execute("COMMIT")
            conn.close()
        elif store.kind == "redis":
            client = sync_redis.Redis.from_url(store.url)  # type: ignore[attr-defined]
            started.set()  # the script is sent now; the caller leaves it a moment to start
            client.eval(_BUSY_SCRIPT, 0, int(seconds * 1_000_000))
            client.close()
        else:
            with psycopg.connect(store.url) as conn:  # type: ignore[attr-defined]
                conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (account,))
                started.set()
                time.sleep(seconds)  # the transaction, and the lock, end with the block

    holder = threading.Thread(target=hold, name="srm-test-busy-store")
    holder.start()
    assert started.wait(10)
    time.sleep(0.1)
    return holder


class BusyStoreBeforeAdmission:
    """A content-access plugin that makes the store busy between authentication and admission.

    The hook runs after the ``Client-Token`` was checked and right before the store's ``admit``,
    so the admission itself (not the token lookup) meets the busy store.
    """

    def __init__(self, store: SessionStore) -> None:
        self.store = store
        self.holders: list[threading.Thread] = []

    @hookimpl
    def srm_check_content_access(
        self, account: str, device: str, content_id: str, content_type: str
    ) -> bool | None:
        self.holders.append(hold_store_busy(self.store, account, LATE_S))
        return None


async def test_setup_answered_503_by_a_busy_real_store_leaves_no_phantom(
    store: SessionStore,
) -> None:
    busy = BusyStoreBeforeAdmission(store)
    plugins = make_plugin_manager(load_entry_points=False)
    plugins.register(busy)
    async with make_api(
        store, default_limit=2, store_timeout_s=STORE_TIMEOUT_S, plugin_manager=plugins
    ) as api:
        account = new_account()
        token = await api.token(account)
        response = await api.setup(token)
        assert response.status_code == 503 and error_code(response) == "SRM-0010"
        plugins.unregister(busy)
        await asyncio.to_thread(busy.holders[0].join, 10)
        await settle(api, account, [])
        await assert_full_limit_available(api, token, account, 2)


async def test_discard_keeps_handed_out_sessions_only(store: SessionStore) -> None:
    me = Identity(new_account(), "tv")
    plain = await store.admit(me, "c", "COD", 0, 30)
    assert isinstance(plain, Admitted)
    assert not await store.discard(new_account(), plain.session_id)  # another account's
    assert await store.discard(me.account, plain.session_id)
    assert not await store.discard(me.account, plain.session_id)  # already gone
    assert not await store.discard(me.account, uuid.uuid4())  # never admitted

    chosen = uuid.uuid4()
    keyed = await store.admit(me, "c", "COD", 0, 30, "key-1", session_id=chosen)
    assert isinstance(keyed, Admitted) and keyed.session_id == chosen
    replay = await store.admit(me, "c", "COD", 0, 30, "key-1", session_id=uuid.uuid4())
    assert isinstance(replay, Admitted) and replay.replayed and replay.session_id == chosen
    assert not await store.discard(me.account, chosen)  # a client holds it
    assert await store.count_live(me.account) == 1
    assert await store.keepalive(me.account, chosen)


_OLD_SESSION_TABLE = """CREATE TABLE srm_session (
    id {id} PRIMARY KEY, account text NOT NULL, device text NOT NULL,
    content_id text NOT NULL, content_type text NOT NULL, timeout_s integer NOT NULL,
    created_at {ts} NOT NULL, last_seen {ts} NOT NULL, expires_at {ts} NOT NULL, idem_key text
)"""


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_a_store_created_before_undo_is_upgraded(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A session table without the ``replayed`` column gains it when the store opens."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
        conn = sqlite3.connect(tmp_path / "old.sqlite3")
        conn.execute(_OLD_SESSION_TABLE.format(id="text", ts="real"))
        conn.commit()
        conn.close()
    else:
        server = request.getfixturevalue("postgres_server")
        name = f"old_{uuid.uuid4().hex[:12]}"
        async with await psycopg.AsyncConnection.connect(server.url, autocommit=True) as admin:
            await admin.execute(f"CREATE DATABASE {name}")
        url = server.url.rsplit("/", 1)[0] + f"/{name}"
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute(_OLD_SESSION_TABLE.format(id="uuid", ts="timestamptz"))
    store = open_store(url)
    await store.open()
    try:
        me = Identity(new_account(), "tv")
        first = await store.admit(me, "c", "COD", 0, 30, "key-1")
        assert isinstance(first, Admitted)
        assert (await store.admit(me, "c", "COD", 0, 30, "key-1")).replayed  # type: ignore[union-attr]
        assert not await store.discard(me.account, first.session_id)
        second = await store.admit(me, "c", "COD", 0, 30)
        assert isinstance(second, Admitted)
        assert await store.discard(me.account, second.session_id)
    finally:
        await store.close()
