"""Store outage (fail closed: 503, never admitted, recovers) and SRM restarts (sessions persist)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from drmkit.srm.auth import TokenTableVerifier
from drmkit.srm.devservers import PostgresServer, RedisServer, ServerUnavailableError
from drmkit.srm.stores import open_store
from drmkit.srm.stores.base import Identity

from .conftest import BODY, _unavailable, error_code, make_api, new_account, start_srm_server


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    try:
        server = RedisServer()
        server.start()
    except ServerUnavailableError as exc:
        _unavailable(exc)
    yield server
    server.close()


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer()
        server.start()
    except ServerUnavailableError as exc:
        _unavailable(exc)
    yield server
    server.close()


@pytest.mark.parametrize("kind", ["redis", "postgres"])
async def test_store_outage_fails_closed_and_recovers(
    kind: str, request: pytest.FixtureRequest
) -> None:
    server = request.getfixturevalue(f"own_{kind}")
    store = open_store(server.url, timeout_s=1.0)
    await store.open()
    try:
        async with make_api(store, default_limit=5, store_timeout_s=1.5) as api:
            account = new_account()
            token = await api.token(account)
            before = await api.setup(token)
            sid = before.json()["successResponse"]["sessionId"]

            server.stop()
            for call in (
                api.setup(token),
                api.setup(token, "/srm/v1"),
                api.keepalive(token, sid),
                api.teardown(token, sid),
            ):
                response = await call
                assert response.status_code == 503, response.text
                assert error_code(response) == "SRM-0010"

            server.start()
            deadline = time.monotonic() + 20
            while True:
                if kind == "redis" and await _reachable(store):
                    # The test server has no persistence: the token table is gone too.
                    token = await TokenTableVerifier(store).issue(Identity(account, "tv"))
                response = await api.setup(token)
                if response.status_code == 200 and "successResponse" in response.json():
                    break
                assert response.status_code in (503, 401), response.text
                assert time.monotonic() < deadline, "store did not recover"
                await asyncio.sleep(0.3)
            # Nothing was admitted during the outage: PostgreSQL kept the session from before.
            expected = 2 if kind == "postgres" else 1
            assert await store.count_live(account) == expected
    finally:
        await store.close()


async def _reachable(store: object) -> bool:
    try:
        await store.get_account_limit("probe")  # type: ignore[attr-defined]
    except Exception:
        return False
    return True


async def test_unreachable_store_at_start_is_a_clear_error() -> None:
    from drmkit.srm.devservers import free_port
    from drmkit.srm.errors import StoreUnavailableError

    for url in (f"redis://127.0.0.1:{free_port()}/0", f"postgresql://x@127.0.0.1:{free_port()}/x"):
        store = open_store(url, timeout_s=0.2)
        with pytest.raises(StoreUnavailableError):
            await store.open()


def test_sqlite_sessions_survive_an_srm_process_restart(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'srm.sqlite3'}"
    account = new_account()

    async def with_store(work: Any) -> Any:
        store = open_store(url)
        await store.open()
        try:
            return await work(store)
        finally:
            await store.close()

    token = asyncio.run(
        with_store(lambda store: TokenTableVerifier(store).issue(Identity(account, "tv")))
    )
    headers = {"Client-Token": token}
    node = start_srm_server(url, tmp_path, default_limit=2, session_timeout_s=30)
    try:
        kept = httpx.post(f"{node.base_url}/srm/sessions", json=BODY, headers=headers).json()[
            "successResponse"
        ]["sessionId"]
        # A second session with a 1 s timeout, admitted through the same store file.
        short = asyncio.run(
            with_store(lambda store: store.admit(Identity(account, "phone"), "c", "COD", 2, 1))
        )
        short_deadline = time.monotonic() + 1.0
    finally:
        node.stop()
    node = start_srm_server(url, tmp_path, port=node.port, default_limit=2, session_timeout_s=30)
    try:
        time.sleep(max(0.0, short_deadline - time.monotonic()))
        base = f"{node.base_url}/srm/sessions"
        assert httpx.put(f"{base}/{kept}", headers=headers).status_code == 200  # persisted
        late = httpx.put(f"{base}/{short.session_id}", headers=headers)  # expired while down
        assert late.status_code == 404 and error_code(late) == "SRM-0008"
        assert "successResponse" in httpx.post(base, json=BODY, headers=headers).json()
        denied = httpx.post(base, json=BODY, headers=headers)
        assert error_code(denied) == "SRM-0006"  # the persisted session still counts
    finally:
        node.stop()


async def test_postgres_sessions_survive_an_srm_restart(postgres_server: PostgresServer) -> None:
    account = new_account()
    store = open_store(postgres_server.url)
    await store.open()
    async with make_api(store, default_limit=1) as api:
        token = await api.token(account)
        sid = (await api.setup(token)).json()["successResponse"]["sessionId"]
    await store.close()

    store = open_store(postgres_server.url)  # a new SRM instance on the same database
    await store.open()
    try:
        async with make_api(store, default_limit=1) as api:
            api.tokens[(account, "device-1")] = token
            assert (await api.keepalive(token, sid)).status_code == 200
            assert error_code(await api.setup(token)) == "SRM-0006"
    finally:
        await store.close()
