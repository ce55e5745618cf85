"""Load: 20 clients x 50 sessions with full license flows and decrypts against one server.

No call may fail, and afterwards the server is back to its baseline: no connection, MediaKeys,
session, CDM session, shared memory or descriptor left, and resident memory close to where it was
after a warm-up round.
"""

from __future__ import annotations

import asyncio
import os
import time

from drmkit.client import MediaKeysClient
from drmkit.client.testing import ServerProcess
from drmkit.core import CipherMode, DecryptParams, Subsample
from drmkit.sdk.model import LicenseHelper
from drmkit.testing.cenc import encrypt_sample
from drmkit.testing.flows import license_session

CLIENTS = 20
SESSIONS_PER_CLIENT = 50
CONCURRENT_PER_CLIENT = 5
RSS_SLACK = 24 * 1024 * 1024


async def one_client(server: ServerProcess, helper: LicenseHelper, sessions: int) -> int:
    decrypted = 0
    async with await MediaKeysClient.connect(server.socket_path, call_timeout=30) as client:
        media_keys = await client.create_media_keys("org.w3.clearkey")
        limiter = asyncio.Semaphore(CONCURRENT_PER_CLIENT)

        async def flow() -> int:
            async with limiter:
                licensed = await license_session(media_keys, helper)
                kid, key = next(iter(licensed.keys.items()))
                plain = os.urandom(2048)
                iv = os.urandom(16)
                subsamples = (Subsample(100, 1948),)
                sample = bytearray(encrypt_sample(plain, key, iv, CipherMode.CENC, subsamples))
                params = DecryptParams(CipherMode.CENC, kid, iv, subsamples)
                await licensed.session.decrypt(sample, params)
                assert bytes(sample) == plain
                assert await licensed.session.contains_key(kid)
                await licensed.session.close()
                await licensed.session.release()
                return len(sample)

        results = await asyncio.gather(*(flow() for _ in range(sessions)))
        decrypted += sum(results)
        await media_keys.destroy()
    return decrypted


async def wait_idle(server: ServerProcess) -> dict[str, object]:
    deadline = time.monotonic() + 15
    while True:
        stats = server.stats()
        idle = stats["connections"] == stats["media_keys"] == stats["key_sessions"] == 0
        if (idle and stats["shared_memory_regions"] == 0) or time.monotonic() > deadline:
            return stats
        await asyncio.sleep(0.05)


async def test_twenty_clients_fifty_sessions_each(
    module_server: ServerProcess, license_helper: LicenseHelper
) -> None:
    await one_client(module_server, license_helper, SESSIONS_PER_CLIENT)  # warm-up
    baseline = await wait_idle(module_server)
    started = time.monotonic()
    totals = await asyncio.gather(
        *(one_client(module_server, license_helper, SESSIONS_PER_CLIENT) for _ in range(CLIENTS))
    )
    elapsed = time.monotonic() - started
    assert sum(totals) == CLIENTS * SESSIONS_PER_CLIENT * 2048
    after = await wait_idle(module_server)
    for counter in ("connections", "media_keys", "key_sessions", "shared_memory_regions"):
        assert after[counter] == 0, counter
    assert after["cdm"] == baseline["cdm"]
    assert after["open_fds"] == baseline["open_fds"]
    rss_growth = int(after["rss_bytes"]) - int(baseline["rss_bytes"])  # type: ignore[call-overload]
    assert rss_growth < RSS_SLACK, f"server grew by {rss_growth} bytes"
    print(f"{CLIENTS * SESSIONS_PER_CLIENT} session flows in {elapsed:.1f} s, rss +{rss_growth}")
