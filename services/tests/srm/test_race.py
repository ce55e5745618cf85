"""Atomic admission: N concurrent setups for one account give exactly min(N, L) sessions.

Across asyncio tasks in one process (every store), OS processes on one SQLite file, and two real
``drmkit srm serve`` processes sharing Redis or PostgreSQL.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from drmkit.srm.auth import TokenTableVerifier
from drmkit.srm.stores import open_store
from drmkit.srm.stores.base import Identity, SessionStore

from .conftest import BODY, error_code, make_api, new_account, start_srm_server


@pytest.mark.parametrize(("setups", "limit"), [(200, 3), (40, 1), (40, 4)])
async def test_concurrent_setups_admit_exactly_the_limit(
    store: SessionStore, setups: int, limit: int
) -> None:
    async with make_api(store, default_limit=limit) as api:
        account = new_account()
        # Several devices of the account race, as in the reference's known under-count.
        tokens = [await api.token(account, f"device-{i}") for i in range(4)]
        responses = await asyncio.gather(
            *(api.setup(tokens[i % len(tokens)]) for i in range(setups))
        )
        granted = [r for r in responses if "successResponse" in r.json()]
        denied = [r for r in responses if "successResponse" not in r.json()]
        assert len(granted) == limit
        assert all(r.status_code == 200 and error_code(r) == "SRM-0006" for r in denied)
        assert await store.count_live(account) == limit
        assert len(await store.list_sessions(account)) == limit


_WORKER = """
import asyncio, sys, time
from pathlib import Path
from drmkit.srm.stores.sqlite import SqliteStore
from drmkit.srm.stores.base import Admitted, Identity

async def main(path, account, start_at, n):
    store = SqliteStore(Path(path), busy_timeout_ms=30000)  # a loaded CI machine is slow
    await store.open()
    await asyncio.sleep(max(0.0, start_at - time.time()))
    admitted = 0
    for _ in range(n):
        r = await store.admit(Identity(account, "d"), "c", "COD", 3, 30)
        admitted += isinstance(r, Admitted)
    await store.close()
    print(admitted)

asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])))
"""


def test_sqlite_admission_is_atomic_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    account = new_account()
    start_at = time.time() + 1.0
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(path), account, str(start_at), "25"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [w.communicate(timeout=60)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers)
    assert sum(int(o.strip()) for o in outputs) == 3

    async def live() -> int:
        store = open_store(f"sqlite:///{path}")
        await store.open()
        try:
            return await store.count_live(account)
        finally:
            await store.close()

    assert asyncio.run(live()) == 3


@pytest.mark.parametrize("kind", ["redis", "postgres"])
async def test_two_srm_processes_sharing_a_store_admit_exactly_the_limit(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    server = request.getfixturevalue(f"{kind}_server")
    store = open_store(server.url)
    await store.open()
    account = new_account()
    await store.set_account_limit(account, 3)
    tokens = [await TokenTableVerifier(store).issue(Identity(account, f"d{i}")) for i in range(4)]
    # Generous store time-outs: on a loaded CI machine a slow answer must not turn into a 503.
    settings = {"store_timeout_s": 20, "store_pool_size": 20}
    nodes = await asyncio.gather(
        asyncio.to_thread(start_srm_server, server.url, tmp_path, **settings),
        asyncio.to_thread(start_srm_server, server.url, tmp_path, **settings),
    )
    try:
        limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            responses = await asyncio.gather(
                *(
                    client.post(
                        f"{nodes[i % 2].base_url}/srm/v1/sessions",
                        json=BODY,
                        headers={"Client-Token": tokens[i % 4]},
                    )
                    for i in range(200)
                )
            )
        bodies = [r.json() for r in responses]
        assert sum("successResponse" in b for b in bodies) == 3
        assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
        assert all(
            b["errorResponse"]["errorCode"] == "SRM-0006" for b in bodies if "errorResponse" in b
        )
        assert await store.count_live(account) == 3
    finally:
        for node in nodes:
            node.stop()
        await store.close()
