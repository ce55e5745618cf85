"""Conformance: per-session ordering, cross-session concurrency, error callbacks, resources."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from drmkit.core import KeyStatusesChanged, LicenseRequest, MediaKeysApi
from drmkit.errors import FailError
from drmkit.sdk.model import LicenseHelper
from drmkit.testing.flows import license_session, next_event
from drmkit.testing.refcdm import RefCdmControl

# Marked for pytest-asyncio explicitly: a vendor's repository need not set asyncio_mode.
pytestmark = [pytest.mark.drmkit_conformance, pytest.mark.asyncio]


async def test_slow_update_in_one_session_does_not_stall_another(
    media_keys: MediaKeysApi,
    license_helper: LicenseHelper,
    refcdm: RefCdmControl,
    drmkit_key_system: str,
    drmkit_new_keys: Callable[..., dict[bytes, bytes]],
) -> None:
    keys = drmkit_new_keys()
    slow = await media_keys.create_session()
    events = slow.events()
    init_data_type, init_data = license_helper.init_data(list(keys))[0]
    await slow.generate_request(init_data_type, init_data)
    request = await next_event(events, LicenseRequest)
    assert isinstance(request, LicenseRequest)
    refcdm.inject("update", key_system=drmkit_key_system, delay_ms=3000, count=1)
    slow_update = asyncio.create_task(
        slow.update(license_helper.build_license(request.message, keys))
    )
    await asyncio.sleep(0.2)  # the slow update is now inside the CDM
    fast = await license_session(media_keys, license_helper)  # create, request, update
    assert await fast.session.contains_key(next(iter(fast.keys)))
    await fast.session.close()
    await fast.session.release()
    assert not slow_update.done(), "another session's calls waited for the slow update"
    # Calls of the slow session queue behind its update, in order.
    contains = asyncio.create_task(slow.contains_key(next(iter(keys))))
    await slow_update
    assert await contains


async def test_error_callback_during_an_operation_fails_it(
    media_keys: MediaKeysApi,
    license_helper: LicenseHelper,
    refcdm: RefCdmControl,
    drmkit_key_system: str,
    drmkit_new_keys: Callable[..., dict[bytes, bytes]],
) -> None:
    keys = drmkit_new_keys()
    session = await media_keys.create_session()
    events = session.events()
    init_data_type, init_data = license_helper.init_data(list(keys))[0]
    await session.generate_request(init_data_type, init_data)
    request = await next_event(events, LicenseRequest)
    assert isinstance(request, LicenseRequest)
    license_ = license_helper.build_license(request.message, keys)
    refcdm.inject("update", key_system=drmkit_key_system, error_message="injected failure")
    with pytest.raises(FailError, match="injected failure"):
        await session.update(license_)
    await session.update(license_)  # the session is still usable
    await next_event(events, KeyStatusesChanged)
    assert await session.contains_key(next(iter(keys)))


async def test_failed_generate_request_can_be_retried(
    media_keys: MediaKeysApi,
    license_helper: LicenseHelper,
    refcdm: RefCdmControl,
    drmkit_key_system: str,
    drmkit_new_keys: Callable[..., dict[bytes, bytes]],
) -> None:
    """Rialto ``SessionFailuresTest``: a failure, then the same call succeeds."""
    keys = drmkit_new_keys()
    session = await media_keys.create_session()
    events = session.events()
    init_data_type, init_data = license_helper.init_data(list(keys))[0]
    refcdm.inject("construct", key_system=drmkit_key_system, fail_code=1)
    with pytest.raises(FailError):
        await session.generate_request(init_data_type, init_data)
    await session.generate_request(init_data_type, init_data)
    assert isinstance(await next_event(events), LicenseRequest)
    refcdm.inject("close", key_system=drmkit_key_system, fail_code=1)
    with pytest.raises(FailError):
        await session.close()
    await session.close()
    await session.release()


async def test_released_sessions_free_cdm_sessions(
    media_keys: MediaKeysApi, license_helper: LicenseHelper, refcdm: RefCdmControl
) -> None:
    baseline = refcdm.stats()["sessions"]
    licensed = [await license_session(media_keys, license_helper) for _ in range(5)]
    assert refcdm.stats()["sessions"] == baseline + 5
    for item in licensed:
        await item.session.release()
    assert refcdm.stats()["sessions"] == baseline
