"""Nothing leaks: 10,000 sessions opened and released, compared with the CDM's own counters,
tracemalloc and RSS; bad input of every kind leaves no session behind."""

from __future__ import annotations

import asyncio
import gc
import resource
import tracemalloc

import pytest
from drmkit.core import (
    DrmError,
    InvalidStateError,
    MediaKeys,
    MediaKeysFactory,
)
from drmkit.sdk.model import LicenseHelper
from drmkit.testing.flows import license_session, new_keys
from drmkit.testing.refcdm import RefCdmControl

CLEARKEY = "org.w3.clearkey"


def rss_kib() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() // 1024


async def churn(media_keys: MediaKeys, init: tuple[str, bytes], count: int) -> None:
    async def one() -> None:
        session = await media_keys.create_session()
        await session.generate_request(*init)
        await session.release()

    for _ in range(0, count, 100):
        await asyncio.gather(*(one() for _ in range(100)))


@pytest.mark.slow
async def test_ten_thousand_sessions_open_and_release_without_leaks(
    media_keys: MediaKeys,
    media_keys_factory: MediaKeysFactory,
    license_helper: LicenseHelper,
    refcdm: RefCdmControl,
) -> None:
    baseline = refcdm.stats()
    init = license_helper.init_data(list(new_keys()))[0]
    # Full cycles (update, key statuses, close) first, then warm up the churn.
    for _ in range(50):
        licensed = await license_session(media_keys, license_helper)
        await licensed.session.close()
        await licensed.session.release()
    await churn(media_keys, init, 1000)
    await asyncio.sleep(0.05)
    gc.collect()
    tracemalloc.start()
    before_python = tracemalloc.get_traced_memory()[0]
    before_rss = rss_kib()
    await churn(media_keys, init, 9000)
    await asyncio.sleep(0.05)
    gc.collect()
    grown_python = tracemalloc.get_traced_memory()[0] - before_python
    tracemalloc.stop()
    grown_rss = rss_kib() - before_rss
    stats = refcdm.stats()
    assert stats["sessions"] == baseline["sessions"], stats
    assert stats["pending_callbacks"] == 0, stats
    assert media_keys.session_ids == []
    assert media_keys_factory.open_sessions == 0
    # A leak of even 64 bytes per session would show 576 KiB here.
    assert grown_python < 512 * 1024, f"Python heap grew {grown_python} bytes over 9000 sessions"
    assert grown_rss < 8 * 1024, f"RSS grew {grown_rss} KiB over 9000 sessions"


async def test_bad_input_leaves_no_session_behind(
    media_keys: MediaKeys,
    media_keys_factory: MediaKeysFactory,
    license_helper: LicenseHelper,
    refcdm: RefCdmControl,
) -> None:
    baseline = refcdm.stats()["sessions"]
    bad_init = [("keyids", b"{}"), ("keyids", b"\xff" * 10), ("cenc", b"\x00" * 40), ("webm", b"")]
    for init_type, data in bad_init:
        session = await media_keys.create_session()
        with pytest.raises(DrmError):
            await session.generate_request(init_type, data)
        with pytest.raises(InvalidStateError):
            await session.update(b'{"keys":[]}')
        await session.release()
    licensed = await license_session(media_keys, license_helper)
    for bad_license in (b"[]", b'{"keys":[{"kty":"RSA"}]}', b"\x00"):
        with pytest.raises(DrmError):
            await licensed.session.update(bad_license)
    await licensed.session.release()
    assert refcdm.stats()["sessions"] == baseline
    assert media_keys_factory.open_sessions == 0


async def test_destroy_releases_every_session(
    media_keys_factory: MediaKeysFactory, license_helper: LicenseHelper, refcdm: RefCdmControl
) -> None:
    baseline = refcdm.stats()
    media_keys = await media_keys_factory.create_media_keys(CLEARKEY)
    licensed = [await license_session(media_keys, license_helper) for _ in range(3)]
    licensed[0].session.acquire_decrypt_reference()  # destroy ignores references
    await media_keys.destroy()
    assert refcdm.stats() == baseline
    assert media_keys_factory.open_sessions == 0
    with pytest.raises(InvalidStateError):
        await media_keys.create_session()
