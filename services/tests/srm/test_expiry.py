"""Expiry: the boundary rule, keep-alive never reviving, counting before the sweeper, races."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from pathlib import Path

import pytest
from drmkit.srm.stores.base import Admitted, Denied, Identity, SessionStore
from drmkit.srm.stores.sqlite import SqliteStore

from .conftest import make_api, new_account, success_id


class ManualClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_boundary_rule_with_injected_clock(tmp_path: Path) -> None:
    """Expired iff now >= last keep-alive + timeout (SQLite, whose clock is injected)."""
    clock = ManualClock(1000.0)
    store = SqliteStore(tmp_path / "s.sqlite3", clock=clock)
    await store.open()
    try:
        me = Identity(new_account(), "tv")
        first = await store.admit(me, "c", "COD", 1, 10)
        assert isinstance(first, Admitted)
        clock.now = 1009.999
        assert await store.count_live(me.account) == 1
        assert isinstance(await store.admit(me, "c", "COD", 1, 10), Denied)
        assert await store.keepalive(me.account, first.session_id)  # now expires at 1019.999
        clock.now = 1019.998
        assert await store.count_live(me.account) == 1
        clock.now = 1019.999  # exactly at expiry: expired
        assert await store.count_live(me.account) == 0
        assert await store.list_sessions(me.account) == []
        assert not await store.keepalive(me.account, first.session_id)
        assert not await store.teardown(me.account, first.session_id)
        second = await store.admit(me, "c", "COD", 1, 10)
        assert isinstance(second, Admitted)
        clock.now = 1030.0
        assert not await store.keepalive(me.account, second.session_id)  # never revived
        clock.now = 1020.0  # even if the clock steps back, the reaped row is gone
        assert not await store.keepalive(me.account, second.session_id)
    finally:
        await store.close()


async def raw_rows(store: SessionStore, account: str) -> int:
    if store.kind == "sqlite":
        assert isinstance(store, SqliteStore)
        with sqlite3.connect(store.path) as conn:
            (n,) = conn.execute(
                "SELECT count(*) FROM srm_session WHERE account = ?", (account,)
            ).fetchone()
        return int(n)
    if store.kind == "redis":
        client = store._redis()  # type: ignore[attr-defined]
        return int(await client.zcard(f"srm:{{{account}}}:z"))
    async with store._conn() as conn:  # type: ignore[attr-defined]
        cur = await conn.execute("SELECT count(*) FROM srm_session WHERE account = %s", (account,))
        row = await cur.fetchone()
        return int(row[0])


async def test_sessions_expire_without_keepalive_on_the_store_clock(store: SessionStore) -> None:
    me = Identity(new_account(), "tv")
    first = await store.admit(me, "c", "COD", 1, 1)
    assert isinstance(first, Admitted)
    (record,) = await store.list_sessions(me.account)
    assert (record.expires_at - record.last_keepalive).total_seconds() == pytest.approx(1.0)
    await asyncio.sleep(0.5)
    assert await store.keepalive(me.account, first.session_id)
    (kept,) = await store.list_sessions(me.account)
    assert kept.last_keepalive > record.last_keepalive
    assert kept.expires_at > record.expires_at
    await asyncio.sleep(0.7)  # 1.2 s after setup, 0.7 s after the keep-alive: still live
    assert await store.count_live(me.account) == 1
    await asyncio.sleep(0.5)  # past the keep-alive's expiry
    # Counting and listing ignore the expired row although no sweeper ran.
    assert await raw_rows(store, me.account) == 1
    assert await store.count_live(me.account) == 0
    assert await store.list_sessions(me.account) == []
    assert not await store.keepalive(me.account, first.session_id)
    second = await store.admit(me, "c", "COD", 1, 1)
    assert isinstance(second, Admitted)
    await asyncio.sleep(1.05)
    assert await raw_rows(store, me.account) == 1
    assert await store.reap() >= 1  # what the background sweeper calls
    assert await raw_rows(store, me.account) == 0


async def test_background_sweeper_deletes_expired_rows(sqlite_store: SessionStore) -> None:
    store = sqlite_store
    async with make_api(store, timeout_s=1, sweep_interval_s=0.2) as api:
        account = new_account()
        token = await api.token(account)
        sid = success_id(await api.setup(token))
        assert await raw_rows(store, account) == 1
        await asyncio.sleep(1.6)
        assert await raw_rows(store, account) == 0
        assert (await api.keepalive(token, sid)).status_code == 404


async def test_keepalive_racing_the_sweeper_never_revives(store: SessionStore) -> None:
    """Keep-alives and reaps fired together around the expiry instant."""
    account = new_account()
    me = Identity(account, "tv")
    admitted = [await store.admit(me, "c", "COD", 0, 1) for _ in range(20)]
    ids = [a.session_id for a in admitted if isinstance(a, Admitted)]
    await asyncio.sleep(0.95)
    tasks = []
    for i, sid in enumerate(ids):
        tasks.append(asyncio.create_task(_later(i * 0.005, store.keepalive(account, sid))))
        tasks.append(asyncio.create_task(_later(i * 0.005, store.reap())))
    results = await asyncio.gather(*tasks)
    kept = {sid for sid, ok in zip(ids, results[0::2], strict=True) if ok}
    live = {r.session_id for r in await store.list_sessions(account)}
    assert live == kept  # a successful keep-alive survives the sweep; a failed one stays dead
    for sid in set(ids) - kept:
        assert not await store.keepalive(account, sid)
    assert {r.session_id for r in await store.list_sessions(account)} == kept


async def _later(delay: float, awaitable: object) -> object:
    await asyncio.sleep(delay)
    return await awaitable  # type: ignore[misc]


async def test_keepalive_racing_an_admission_never_exceeds_the_limit(store: SessionStore) -> None:
    """At the expiry instant, a keep-alive of the old session and a new setup race (limit 1)."""
    accounts = [Identity(new_account(), "tv") for _ in range(15)]
    old: dict[str, uuid.UUID] = {}
    for me in accounts:
        result = await store.admit(me, "c", "COD", 1, 1)
        assert isinstance(result, Admitted)
        old[me.account] = result.session_id
    started = time.monotonic()
    await asyncio.sleep(max(0.0, 0.97 - (time.monotonic() - started)))
    pairs = []
    for i, me in enumerate(accounts):
        delay = i * 0.004
        pairs.append(
            asyncio.gather(
                _later(delay, store.keepalive(me.account, old[me.account])),
                _later(delay, store.admit(me, "c", "COD", 1, 1)),
            )
        )
    outcomes = await asyncio.gather(*pairs)
    for me, (kept, admission) in zip(accounts, outcomes, strict=True):
        # Never both (over the limit). Neither is possible right at the boundary: each call reads
        # the clock when it runs, so an admission serialised first may still see the old session
        # live while the keep-alive after it finds it expired; then nothing is live.
        admitted = isinstance(admission, Admitted)
        assert not (kept and admitted), (kept, admission)
        assert await store.count_live(me.account) == int(kept or admitted)


@pytest.mark.parametrize("kind", ["redis", "postgres"])
async def test_shared_stores_ignore_the_nodes_clock(
    kind: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis and PostgreSQL use the server's clock: a node an hour off changes nothing."""
    from datetime import UTC, datetime

    from drmkit.srm.stores import open_store

    server = request.getfixturevalue(f"{kind}_server")
    real_now = time.time()
    monkeypatch.setattr(time, "time", lambda: real_now + 3600.0)
    store = open_store(server.url, timeout_s=20)
    await store.open()
    try:
        me = Identity(new_account(), "tv")
        admitted = await store.admit(me, "c", "COD", 1, 2)
        assert isinstance(admitted, Admitted)
        assert await store.count_live(me.account) == 1
        assert await store.keepalive(me.account, admitted.session_id)
        (record,) = await store.list_sessions(me.account)
        server_offset = record.created_at - datetime.fromtimestamp(real_now, UTC)
        assert abs(server_offset.total_seconds()) < 60
        assert isinstance(await store.admit(me, "c", "COD", 1, 2), Denied)
    finally:
        await store.close()
