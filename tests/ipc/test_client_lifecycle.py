"""The client against a real server: cleanup, app state, limits, crashes, timeouts, health."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

import httpx
import pytest
from drmkit.client import (
    ControlClient,
    MediaKeysClient,
    ServerUnavailableError,
    SyncMediaKeysClient,
)
from drmkit.client.testing import ServerProcess
from drmkit.core import CipherMode, DecryptParams, KeyStatusesChanged, LicenseRequest
from drmkit.errors import (
    BadSessionIdError,
    FailError,
    InvalidStateError,
    LimitExceededError,
    MediaKeyErrorStatus,
    OperationTimeoutError,
)
from drmkit.sdk.model import LicenseHelper
from drmkit.testing.cenc import encrypt_sample
from drmkit.testing.flows import license_session, new_keys, next_event

CLEARKEY = "org.w3.clearkey"


async def wait_idle(server: ServerProcess, timeout: float = 10.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        stats = server.stats()
        idle = stats["connections"] == stats["media_keys"] == stats["key_sessions"] == 0
        if (idle and stats["shared_memory_regions"] == 0) or time.monotonic() > deadline:
            return stats
        await asyncio.sleep(0.05)


async def decrypt_roundtrip(licensed: object, size: int = 4096) -> None:
    kid, key = next(iter(licensed.keys.items()))  # type: ignore[attr-defined]
    plain = os.urandom(size)
    iv = os.urandom(16)
    sample = bytearray(encrypt_sample(plain, key, iv, CipherMode.CENC))
    await licensed.session.decrypt(sample, DecryptParams(CipherMode.CENC, kid, iv))  # type: ignore[attr-defined]
    assert bytes(sample) == plain


async def test_disconnect_releases_everything_even_with_references_held(
    module_server: ServerProcess, license_helper: LicenseHelper
) -> None:
    baseline = await wait_idle(module_server)
    client = await MediaKeysClient.connect(module_server.socket_path)
    for _ in range(2):
        media_keys = await client.create_media_keys(CLEARKEY)
        for _ in range(3):
            licensed = await license_session(media_keys, license_helper)
            await decrypt_roundtrip(licensed)
        licensed.session.acquire_decrypt_reference()  # held when the client goes away
        await licensed.session.close()  # deferred
    busy = module_server.stats()
    assert busy["key_sessions"] == 6
    assert busy["cdm"]["sessions"] == baseline["cdm"]["sessions"] + 6  # type: ignore[index]
    assert busy["shared_memory_regions"] == 1
    await client.close()
    after = await wait_idle(module_server)
    for counter in ("media_keys", "key_sessions", "cdm", "open_fds", "shared_memory_regions"):
        assert after[counter] == baseline[counter], counter


async def test_inactive_frees_all_tells_clients_and_active_resumes(
    module_server: ServerProcess, license_helper: LicenseHelper
) -> None:
    baseline = await wait_idle(module_server)
    client = await MediaKeysClient.connect(
        module_server.socket_path, control_socket_path=module_server.control_path
    )
    other = await MediaKeysClient.connect(module_server.socket_path)
    try:
        media_keys = await client.create_media_keys(CLEARKEY)
        licensed = await license_session(media_keys, license_helper)
        await decrypt_roundtrip(licensed)
        other_keys = await other.create_media_keys(CLEARKEY)
        other_session = await license_session(other_keys, license_helper)
        await client.set_active(False)
        stats = module_server.stats()
        assert stats["state"] == "inactive"
        assert stats["key_sessions"] == 0
        assert stats["shared_memory_regions"] == 0
        assert stats["cdm"] == baseline["cdm"]
        assert media_keys.destroyed
        await other.ping()  # the other client was told too (its notification came first)
        assert other_keys.destroyed and not other.active
        assert other.supported_key_systems() == []
        with pytest.raises(BadSessionIdError):
            await other_session.session.contains_key(next(iter(other_session.keys)))
        with pytest.raises(InvalidStateError):
            await client.create_media_keys(CLEARKEY)
        with pytest.raises(InvalidStateError):
            await media_keys.create_session()
        await client.set_active(True)
        await other.ping()
        assert other.active and other.supported_key_systems() == [CLEARKEY]
        again = await other.create_media_keys(CLEARKEY)
        await decrypt_roundtrip(await license_session(again, license_helper))
    finally:
        await client.close()
        await other.close()


async def test_limits_give_a_clear_status(
    start_server: Callable[..., ServerProcess], license_helper: LicenseHelper
) -> None:
    server = start_server(
        env={
            "DRMKIT_SERVER__MAX_MEDIA_KEYS": "2",
            "DRMKIT_SERVER__MAX_KEY_SESSIONS": "3",
            "DRMKIT_SERVER__MAX_CONNECTIONS": "1",
        }
    )
    async with await MediaKeysClient.connect(server.socket_path) as client:
        with pytest.raises(ServerUnavailableError):  # one connection only: refused at once
            await MediaKeysClient.connect(server.socket_path)
        first = await client.create_media_keys(CLEARKEY)
        second = await client.create_media_keys(CLEARKEY)
        with pytest.raises(LimitExceededError, match="max_media_keys") as raised:
            await client.create_media_keys(CLEARKEY)
        assert raised.value.status is MediaKeyErrorStatus.FAIL
        sessions = [await first.create_session(), await first.create_session()]
        sessions.append(await second.create_session())
        with pytest.raises(LimitExceededError, match="max_key_sessions"):
            await second.create_session()
        await sessions[0].release()
        await second.create_session()  # room again
        await first.destroy()
        await client.create_media_keys(CLEARKEY)

        # A server that dies: pending calls fail clearly, and the client reconnects to a new one.
        server.control(
            "test_control",
            {"command": {"op": "inject", "operation": "update", "delay_ms": 3000, "count": 1}},
        )
        session = sessions[2]  # a session of ``second``
        keys = new_keys()
        events = session.events()
        init_data_type, init_data = license_helper.init_data(list(keys))[0]
        await session.generate_request(init_data_type, init_data)
        request = await next_event(events, LicenseRequest)
        pending = asyncio.create_task(
            session.update(license_helper.build_license(request.message, keys))  # type: ignore[attr-defined]
        )
        await asyncio.sleep(0.3)
        server.kill()
        with pytest.raises(ServerUnavailableError):
            await pending
        assert not client.connected
        assert second.destroyed
        with pytest.raises(InvalidStateError):
            await second.create_session()
        with pytest.raises(ServerUnavailableError):
            await client.create_media_keys(CLEARKEY)
        server.start()  # same socket path: the stale socket file is cleaned up
        await client.reconnect()
        fresh = await client.create_media_keys(CLEARKEY)
        await decrypt_roundtrip(await license_session(fresh, license_helper))


async def test_call_timeout_and_ping_report_a_stuck_worker(
    module_server: ServerProcess, license_helper: LicenseHelper
) -> None:
    async with await MediaKeysClient.connect(module_server.socket_path, call_timeout=0.3) as client:
        media_keys = await client.create_media_keys(CLEARKEY)
        assert (await client.ping())["ok"]
        session = await media_keys.create_session()
        keys = new_keys()
        events = session.events()
        init_data_type, init_data = license_helper.init_data(list(keys))[0]
        module_server.control(
            "test_control",
            {"command": {"op": "inject", "operation": "construct", "delay_ms": 1500, "count": 1}},
        )
        with pytest.raises(OperationTimeoutError, match=r"no reply within 0\.3 s") as raised:
            await session.generate_request(init_data_type, init_data)
        assert isinstance(raised.value, FailError)
        health = await client.ping(timeout_s=0.2)
        assert not health["ok"]
        assert f"key_session:{session.id}" in health["unresponsive"]
        await next_event(events, LicenseRequest)  # the call did finish on the server
        await asyncio.sleep(0.2)
        assert (await client.ping())["ok"]
        control = await ControlClient.connect(module_server.control_path)
        assert (await control.ping())["ok"]
        await control.close()


async def test_events_reach_only_the_owning_connection(
    module_server: ServerProcess, license_helper: LicenseHelper
) -> None:
    first = await MediaKeysClient.connect(module_server.socket_path)
    second = await MediaKeysClient.connect(module_server.socket_path)
    try:
        a = await license_session(await first.create_media_keys(CLEARKEY), license_helper)
        b_keys = await second.create_media_keys(CLEARKEY)
        b_session = await b_keys.create_session()
        b_events = b_session.events()
        a_request = a.request
        await a.session.update(license_helper.build_license(a_request.message, a.keys))
        await next_event(a.events, KeyStatusesChanged)
        with pytest.raises(TimeoutError):
            await b_events.next(timeout=0.3)
    finally:
        await first.close()
        await second.close()


async def test_metrics_endpoint_counts_requests(module_server: ServerProcess) -> None:
    async with await MediaKeysClient.connect(module_server.socket_path) as client:
        await client.create_media_keys(CLEARKEY)
    metrics_socket = module_server.directory.parent / "metrics.sock"
    transport = httpx.AsyncHTTPTransport(uds=str(metrics_socket))
    async with httpx.AsyncClient(transport=transport) as http:
        response = await http.get("http://server/metrics")
    assert response.status_code == 200
    text = response.text
    assert 'drmkit_server_requests_total{method="create_media_keys",outcome="ok"}' in text
    assert "drmkit_server_request_seconds_bucket" in text
    assert "drmkit_server_connections" in text


def test_sync_facade_full_flow(module_server: ServerProcess, license_helper: LicenseHelper) -> None:
    with SyncMediaKeysClient(module_server.socket_path) as client:
        assert CLEARKEY in client.supported_key_systems()
        media_keys = client.create_media_keys(CLEARKEY)
        session = media_keys.create_session()
        keys = new_keys()
        init_data_type, init_data = license_helper.init_data(list(keys))[0]
        session.generate_request(init_data_type, init_data)
        request = session.next_event(5)
        assert isinstance(request, LicenseRequest)
        session.update(license_helper.build_license(request.message, keys))
        assert isinstance(session.next_event(5), KeyStatusesChanged)
        kid, key = next(iter(keys.items()))
        assert session.contains_key(kid)
        iv = os.urandom(8)
        plain = os.urandom(1000)
        sample = bytearray(encrypt_sample(plain, key, iv, CipherMode.CENC))
        session.decrypt(sample, DecryptParams(CipherMode.CENC, kid, iv))
        assert bytes(sample) == plain
        with pytest.raises(BadSessionIdError):
            media_keys.contains_key(10**9, kid)
        session.close()
        session.release()


async def test_disconnect_mid_decrypt_keeps_the_server_whole(
    module_server: ServerProcess, license_helper: LicenseHelper
) -> None:
    baseline = await wait_idle(module_server)
    client = await MediaKeysClient.connect(module_server.socket_path)
    licensed = await license_session(await client.create_media_keys(CLEARKEY), license_helper)
    await decrypt_roundtrip(licensed)  # maps the shared memory
    module_server.control(
        "test_control",
        {"command": {"op": "inject", "operation": "decrypt", "delay_ms": 600, "count": 1}},
    )
    kid, key = next(iter(licensed.keys.items()))
    iv = os.urandom(16)
    sample = bytearray(encrypt_sample(os.urandom(500_000), key, iv, CipherMode.CENC))
    decrypting = asyncio.create_task(
        licensed.session.decrypt(sample, DecryptParams(CipherMode.CENC, kid, iv))
    )
    await asyncio.sleep(0.2)  # the CDM is writing into the shared memory now
    await client.close()
    with pytest.raises(ServerUnavailableError):
        await decrypting
    after = await wait_idle(module_server)
    for counter in ("media_keys", "key_sessions", "cdm", "open_fds", "shared_memory_regions"):
        assert after[counter] == baseline[counter], counter
    assert after["pid"] == baseline["pid"]  # the same process: it did not crash
