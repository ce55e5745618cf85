"""The SRM client against a real SRM over real sockets, with faults injected by a TCP proxy."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from drmkit.srm.app import create_app
from drmkit.srm.auth import TokenTableVerifier
from drmkit.srm.client import (
    ClientEvent,
    ClientTiming,
    SrmClient,
    SrmDeniedError,
    SrmUnavailableError,
)
from drmkit.srm.devservers import free_port
from drmkit.srm.plugin_manager import make_plugin_manager
from drmkit.srm.service import SrmService
from drmkit.srm.stores import open_store
from drmkit.srm.stores.base import Identity, SessionStore

from .conftest import OPERATOR_TOKEN, new_account

TIMING = ClientTiming(request_timeout_s=0.5, backoff_initial_s=0.1, backoff_max_s=0.4)


class FaultProxy:
    """TCP proxy in front of the SRM: passes traffic, or swallows it (no response), or resets."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.mode = "pass"
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        try:
            if self.mode == "reset":
                writer.transport.abort()
                return
            if self.mode == "blackhole":
                while await reader.read(65536):
                    pass
                return
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
            if self.mode == "drop-reply":  # the request reaches the SRM, its answer is lost
                await asyncio.gather(self._pipe(reader, up_writer), self._drain(up_reader))
                return
            await asyncio.gather(
                self._pipe(reader, up_writer, check=True), self._pipe(up_reader, writer)
            )
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)  # type: ignore[arg-type]

    async def _drain(self, src: asyncio.StreamReader) -> None:
        while await src.read(65536):
            pass

    async def _pipe(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, check: bool = False
    ) -> None:
        try:
            while data := await src.read(65536):
                if check and self.mode != "pass":
                    # Requests on an existing connection are swallowed too while faulty.
                    while await src.read(65536):
                        pass
                    break
                dst.write(data)
                await dst.drain()
        finally:
            dst.close()


@dataclass
class Rig:
    store: SessionStore
    service: SrmService
    proxy: FaultProxy
    server_port: int
    events: list[tuple[ClientEvent, dict[str, Any]]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proxy.port}"

    @property
    def direct_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    async def token(self, account: str, device: str = "tv") -> str:
        return await TokenTableVerifier(self.store).issue(Identity(account, device))

    def client(self, token: str) -> SrmClient:
        return SrmClient(
            self.url,
            token,
            timing=TIMING,
            listener=lambda event, details: self.events.append((event, details)),
        )

    def count(self, event: ClientEvent) -> int:
        return sum(1 for e, _ in self.events if e is event)


@contextlib.asynccontextmanager
async def running_rig(url: str, *, timeout_s: int = 2, default_limit: int = 2) -> Any:
    store = open_store(url)
    service = SrmService(
        store,
        TokenTableVerifier(store),
        make_plugin_manager(load_entry_points=False),
        default_limit=default_limit,
        timeout_s=timeout_s,
        sweep_interval_s=60,
    )
    app = create_app(service, operator_token=OPERATOR_TOKEN)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    proxy = FaultProxy(port)
    await proxy.start()
    try:
        yield Rig(store=store, service=service, proxy=proxy, server_port=port)
    finally:
        await proxy.close()
        server.should_exit = True
        await serving


@pytest.fixture
async def rig(tmp_path: Any) -> AsyncIterator[Rig]:
    async with running_rig(f"sqlite:///{tmp_path / 'srm.sqlite3'}") as made:
        yield made


async def operator_teardown(rig: Rig, account: str, sid: str) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.delete(
            f"{rig.direct_url}/srm/operator/accounts/{account}/sessions/{sid}",
            headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        )
        assert response.status_code == 200


async def test_keepalive_period_is_below_half_the_timeout(rig: Rig) -> None:
    account = new_account()
    times: list[float] = []

    def on_event(event: ClientEvent, details: dict[str, Any]) -> None:
        if event is ClientEvent.KEEPALIVE:
            times.append(time.monotonic())

    client = SrmClient(rig.url, await rig.token(account), timing=TIMING, listener=on_event)
    async with client:
        sid = await client.start("100001V3D", "COD")
        assert client.timeout_s == 2
        await asyncio.sleep(3.0)  # 1.5 timeouts: without keep-alives the session would be gone
        assert client.session_id == sid
        assert await rig.store.count_live(account) == 1
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) >= 3
    assert all(0.5 < gap < 1.0 for gap in gaps), gaps  # timeout/3, always < timeout/2
    assert await rig.store.count_live(account) == 0  # torn down on close


async def test_no_response_is_retried_within_the_timeout(rig: Rig) -> None:
    account = new_account()
    async with rig.client(await rig.token(account)) as client:
        sid = await client.start("100001V3D", "COD")
        await asyncio.sleep(0.75)  # just after the first keep-alive
        rig.proxy.mode = "blackhole"
        await asyncio.sleep(0.9)
        rig.proxy.mode = "pass"
        await asyncio.sleep(0.8)
        assert rig.count(ClientEvent.KEEPALIVE_RETRY) >= 1
        assert rig.count(ClientEvent.RESETUP) == 0
        assert client.session_id == sid
        assert [s.session_id for s in await rig.store.list_sessions(account)] == [uuid.UUID(sid)]


async def test_reset_connections_are_retried_too(rig: Rig) -> None:
    account = new_account()
    async with rig.client(await rig.token(account)) as client:
        sid = await client.start("100001V3D", "COD")
        rig.proxy.mode = "reset"
        await asyncio.sleep(1.0)
        rig.proxy.mode = "pass"
        await asyncio.sleep(0.8)
        assert rig.count(ClientEvent.KEEPALIVE_RETRY) >= 1
        assert client.session_id == sid


async def test_outage_longer_than_the_timeout_sets_up_again(rig: Rig) -> None:
    account = new_account()
    async with rig.client(await rig.token(account)) as client:
        old = await client.start("100001V3D", "COD")
        rig.proxy.mode = "blackhole"
        await asyncio.sleep(2.6)
        rig.proxy.mode = "pass"
        await asyncio.sleep(1.2)
        assert rig.count(ClientEvent.RESETUP) == 1
        assert client.session_id not in (None, old)
        (live,) = await rig.store.list_sessions(account)
        assert str(live.session_id) == client.session_id


async def test_error_response_to_keepalive_tears_down_and_sets_up_again(rig: Rig) -> None:
    account = new_account()
    async with rig.client(await rig.token(account)) as client:
        old = await client.start("100001V3D", "COD")
        await operator_teardown(rig, account, old)
        await asyncio.sleep(1.0)
        assert rig.count(ClientEvent.RESETUP) == 1
        details = next(d for e, d in rig.events if e is ClientEvent.RESETUP)
        assert details["old_session_id"] == old
        teardowns = [d for e, d in rig.events if e is ClientEvent.TEARDOWN]
        assert teardowns[0]["session_id"] == old and teardowns[0]["status"] == 404
        assert client.session_id not in (None, old)
        assert await rig.store.count_live(account) == 1


async def test_denied_stops_without_retrying(rig: Rig) -> None:
    account = new_account()
    await rig.store.set_account_limit(account, 1)
    async with rig.client(await rig.token(account, "tv")) as tv:
        sid = await tv.start("100001V3D", "COD")
        phone = rig.client(await rig.token(account, "phone"))
        with pytest.raises(SrmDeniedError) as denied:
            await phone.start("100001V3D", "COD")
        assert denied.value.error_code == "SRM-0006"
        # The operator kicks the TV and the phone takes the slot at once: the TV's keep-alive
        # gets SRM-0008, its re-setup is DENIED, and it stops.
        await operator_teardown(rig, account, sid)
        await phone.start("100001V3D", "COD")
        failure = await asyncio.wait_for(tv.wait_failure(), 3)
        assert isinstance(failure, SrmDeniedError)
        setups_before = rig.count(ClientEvent.SETUP) + rig.count(ClientEvent.RESETUP)
        await asyncio.sleep(1.0)
        assert rig.count(ClientEvent.SETUP) + rig.count(ClientEvent.RESETUP) == setups_before
        assert tv.session_id is None
        assert await rig.store.count_live(account) == 1
        await phone.aclose()
    assert await rig.store.count_live(account) == 0


async def test_content_change_tears_down_the_old_session(rig: Rig) -> None:
    account = new_account()
    async with rig.client(await rig.token(account)) as client:
        old = await client.start("100001V3D", "COD")
        new = await client.change_content("BTV_CH1_V", "LIVE")
        assert new != old
        (live,) = await rig.store.list_sessions(account)
        assert (str(live.session_id), live.content_id, live.content_type) == (
            new,
            "BTV_CH1_V",
            "LIVE",
        )
    assert await rig.store.count_live(account) == 0


async def test_suspend_longer_than_the_timeout_sets_up_again(rig: Rig) -> None:
    account = new_account()
    jump = 0.0
    client = SrmClient(
        rig.url,
        await rig.token(account),
        timing=TIMING,
        wall=lambda: time.time() + jump,
        listener=lambda event, details: rig.events.append((event, details)),
    )
    async with client:
        old = await client.start("100001V3D", "COD")
        # A suspend: the wall clock moves on while the monotonic clock stood still.
        jump = 3600.0
        await asyncio.sleep(1.0)
        assert rig.count(ClientEvent.RESETUP) == 1
        details = next(d for e, d in rig.events if e is ClientEvent.RESETUP)
        assert "suspend" in details["reason"]
        assert client.session_id not in (None, old)
        assert await rig.store.count_live(account) == 1


async def test_setup_against_an_unreachable_srm_raises(rig: Rig) -> None:
    rig.proxy.mode = "reset"
    client = rig.client(await rig.token(new_account()))
    async with client:
        with pytest.raises(SrmUnavailableError):
            await client.start("100001V3D", "COD")


async def test_setup_retried_after_a_lost_answer_takes_one_slot(rig: Rig) -> None:
    account = new_account()
    async with rig.client(await rig.token(account)) as client:
        rig.proxy.mode = "drop-reply"
        starting = asyncio.create_task(client.start("100001V3D", "COD"))
        await asyncio.sleep(0.7)  # the first attempt reached the SRM; its answer was lost
        rig.proxy.mode = "pass"
        sid = await starting
        (live,) = await rig.store.list_sessions(account)
        assert str(live.session_id) == sid  # the retry got the same session back
