"""The per-session serial executor and operation timeouts."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time

import pytest
from drmkit.core import LicenseRequest, MediaKeys, OperationTimeoutError
from drmkit.core.executor import SerialExecutor
from drmkit.sdk.model import LicenseHelper
from drmkit.testing.flows import new_keys, next_event
from drmkit.testing.refcdm import RefCdmControl
from drmkit_hal import Hal


async def test_jobs_of_one_executor_run_in_order_one_at_a_time() -> None:
    loop = asyncio.get_running_loop()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        executor = SerialExecutor(loop, pool)
        running = 0
        seen: list[int] = []
        lock = threading.Lock()

        def job(n: int) -> int:
            nonlocal running
            with lock:
                running += 1
                assert running == 1
            time.sleep(0.001)
            seen.append(n)
            with lock:
                running -= 1
            return n

        results = await asyncio.gather(*(executor.submit(lambda n=n: job(n)) for n in range(30)))
    assert results == list(range(30)) and seen == list(range(30))
    assert executor.idle


async def test_executors_run_concurrently_and_errors_stay_in_their_job() -> None:
    loop = asyncio.get_running_loop()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        slow, fast = SerialExecutor(loop, pool), SerialExecutor(loop, pool)
        gate = threading.Event()
        blocked = slow.submit(gate.wait)

        def fail() -> None:
            raise ValueError("job failed")

        with pytest.raises(ValueError, match="job failed"):
            await fast.submit(fail)
        assert await fast.submit(lambda: 42) == 42  # not behind the blocked executor
        assert not blocked.done()
        gate.set()
        assert await blocked is True


async def test_cancelled_queued_job_is_skipped() -> None:
    loop = asyncio.get_running_loop()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        executor = SerialExecutor(loop, pool)
        gate = threading.Event()
        ran: list[str] = []
        first = executor.submit(gate.wait)
        skipped = executor.submit(lambda: ran.append("skipped"))
        last = executor.submit(lambda: ran.append("last"))
        skipped.cancel()
        gate.set()
        await first
        await last
    assert ran == ["last"]


async def test_slow_cdm_call_times_out_with_a_typed_error(
    media_keys: MediaKeys,
    license_helper: LicenseHelper,
    refcdm: RefCdmControl,
    drmkit_hal: Hal,
) -> None:
    factory = media_keys._factory
    keys = new_keys()
    session = await media_keys.create_session()
    events = session.events()
    init_type, init_data = license_helper.init_data(list(keys))[0]
    await session.generate_request(init_type, init_data)
    request = await next_event(events, LicenseRequest)
    assert isinstance(request, LicenseRequest)
    refcdm.inject("update", key_system="org.w3.clearkey", delay_ms=1500)
    original = factory._settings
    factory._settings = original.model_copy(update={"operation_timeout_s": 0.3})
    try:
        with pytest.raises(OperationTimeoutError, match="drm_update_session"):
            await session.update(license_helper.build_license(request.message, keys))
    finally:
        factory._settings = original
    # The late call still completes in order; the session keeps working.
    assert await session.contains_key(next(iter(keys)))


async def test_queued_jobs_run_back_to_back_on_one_thread() -> None:
    loop = asyncio.get_running_loop()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        executor = SerialExecutor(loop, pool)
        gate = threading.Event()
        first = executor.submit(gate.wait)
        rest = [executor.submit(threading.get_ident) for _ in range(10)]
        gate.set()
        await first
        threads = set(await asyncio.gather(*rest))
    assert len(threads) == 1  # one hand-over to the pool for the whole queue


async def test_a_busy_executor_yields_the_pool_thread_to_others() -> None:
    from drmkit.core.executor import MAX_JOBS_PER_TURN

    loop = asyncio.get_running_loop()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        busy, other = SerialExecutor(loop, pool), SerialExecutor(loop, pool)
        order: list[str] = []
        gate = threading.Event()
        jobs = [busy.submit(gate.wait)]
        jobs += [busy.submit(lambda: order.append("busy")) for _ in range(3 * MAX_JOBS_PER_TURN)]
        jobs.append(other.submit(lambda: order.append("other")))
        gate.set()
        await asyncio.gather(*jobs)
    assert order.index("other") <= MAX_JOBS_PER_TURN  # not behind all of the busy queue
    assert busy.idle and other.idle


async def test_cancelling_the_caller_is_not_reported_as_a_timeout(
    media_keys: MediaKeys, license_helper: LicenseHelper, refcdm: RefCdmControl
) -> None:
    keys = new_keys()
    session = await media_keys.create_session()
    events = session.events()
    init_type, init_data = license_helper.init_data(list(keys))[0]
    await session.generate_request(init_type, init_data)
    request = await next_event(events, LicenseRequest)
    assert isinstance(request, LicenseRequest)
    refcdm.inject("update", key_system="org.w3.clearkey", delay_ms=400)
    task = asyncio.ensure_future(
        session.update(license_helper.build_license(request.message, keys))
    )
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The call itself still ran to its end, in order: the session holds the key afterwards.
    assert await session.contains_key(next(iter(keys)))
