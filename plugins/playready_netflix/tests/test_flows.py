"""PlayReady and Netflix flows through the core and the real reference CDM, with injected faults.

Fixtures come from drmkit's conformance kit (``drmkit.testing``): ``media_keys_factory`` makes
MediaKeys on the bundled reference CDM, ``refcdm`` is its test control.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from drmkit.core import (
    CipherMode,
    DecryptParams,
    KeyStatus,
    KeyStatusesChanged,
    LicenseRenewal,
    LicenseRequest,
    MediaKeys,
    MessageType,
)
from drmkit.core.factory import MediaKeysFactory
from drmkit.errors import (
    FailError,
    InterfaceNotImplementedError,
    InvalidInitDataError,
    InvalidKeyIdError,
    InvalidLicenseError,
    InvalidStateError,
    NotSupportedError,
)
from drmkit.testing.cenc import encrypt_sample
from drmkit.testing.flows import new_keys, next_event
from drmkit.testing.refcdm import RefCdmControl
from drmkit.types import LimitedDurationLicense
from drmkit_playready_netflix.header import build_header
from drmkit_playready_netflix.initdata import build_playready_object, build_pssh
from drmkit_playready_netflix.license_helper import PlayReadyLicenseHelper
from drmkit_playready_netflix.licenses import build_test_license, parse_challenge
from drmkit_playready_netflix.session_state import PlayReadySessionState
from hypothesis import given, settings
from hypothesis import strategies as st

NETFLIX = "com.netflix.playready"
PLAYREADY = "com.microsoft.playready"
LA_URL = "https://license.example/rightsmanager.asmx?PlayRight=1&UseSimple=1"


@pytest.fixture
async def netflix(media_keys_factory: MediaKeysFactory) -> AsyncIterator[MediaKeys]:
    media_keys = await media_keys_factory.create_media_keys(NETFLIX)
    try:
        yield media_keys
    finally:
        await media_keys.destroy()


@pytest.fixture
async def playready(media_keys_factory: MediaKeysFactory) -> AsyncIterator[MediaKeys]:
    media_keys = await media_keys_factory.create_media_keys(PLAYREADY)
    try:
        yield media_keys
    finally:
        await media_keys.destroy()


def header(keys: dict[bytes, bytes], *, la_url: str | None = None, checksums: bool = True) -> bytes:
    return build_playready_object(
        build_header(list(keys), keys=keys if checksums else None, la_url=la_url)
    )


def sample_for(key: bytes) -> tuple[bytes, bytes, bytearray]:
    plain, iv = os.urandom(96), os.urandom(16)
    return plain, iv, bytearray(encrypt_sample(plain, key, iv, CipherMode.CENC))


async def netflix_licensed(media_keys: MediaKeys, keys: dict[bytes, bytes]) -> tuple[Any, Any]:
    session = await media_keys.create_session()
    events = session.events()
    await session.generate_request("drmheader", header(keys))
    request = await next_event(events, LicenseRequest)
    assert isinstance(request, LicenseRequest)
    await session.update(build_test_license(NETFLIX, None, keys))
    await next_event(events, KeyStatusesChanged)
    return session, events


# -- Netflix --------------------------------------------------------------------------------------


async def test_netflix_header_queued_before_construct_is_the_one_used(netflix: MediaKeys) -> None:
    queued, given = new_keys(1), new_keys(1)
    session = await netflix.create_session()
    events = session.events()
    await session.set_drm_header(header(queued))
    assert session._context.cdm is None  # queued: no CDM session yet
    await session.generate_request("drmheader", header(given))
    request = await next_event(events, LicenseRequest)
    assert isinstance(request, LicenseRequest)
    assert request.url == ""
    assert request.message_type is MessageType.LICENSE_REQUEST
    # The queued header reached the CDM after construct (the simulation keeps every KID it saw).
    assert set(queued) <= set(parse_challenge(request.message).kids)


@pytest.mark.parametrize(
    ("ldl", "attribute"),
    [
        (LimitedDurationLicense.NOT_SPECIFIED, 'LDL="0"'),
        (LimitedDurationLicense.DISABLED, 'LDL="0"'),
        (LimitedDurationLicense.ENABLED, 'LDL="1"'),
    ],
)
async def test_netflix_challenge_pulled_per_generate_request_with_ldl(
    netflix: MediaKeys, ldl: LimitedDurationLicense, attribute: str
) -> None:
    keys = new_keys(2)
    session = await netflix.create_session()
    events = session.events()
    for _ in range(2):  # every generate request pulls a new challenge: each is a request
        await session.generate_request("cenc", build_pssh(header(keys)), ldl)
        request = await next_event(events)
        assert isinstance(request, LicenseRequest)
        assert attribute.encode() in request.message
        assert parse_challenge(request.message).kids == tuple(keys)
        assert parse_challenge(request.message).session_id == (
            await session.get_cdm_key_session_id()
        )


async def test_netflix_failed_challenge_pull_is_an_error_and_can_be_retried(
    netflix: MediaKeys, refcdm: RefCdmControl
) -> None:
    keys = new_keys()
    session = await netflix.create_session()
    events = session.events()
    refcdm.inject("get_challenge_data", key_system=NETFLIX, fail_code=1)
    with pytest.raises(FailError):
        await session.generate_request("drmheader", header(keys))
    await session.generate_request("drmheader", header(keys))
    assert isinstance(await next_event(events), LicenseRequest)


async def test_netflix_zero_size_challenge_is_a_failure_not_a_crash(netflix: MediaKeys) -> None:
    session = await netflix.create_session()
    await session.generate_request("drmheader", header(new_keys()))
    cdm = session._context.cdm
    real = cdm.get_challenge_data

    def zero_size(is_ldl: bool = False) -> bytes:  # fault: the HAL's own size-0 refusal
        from drmkit_hal import OcdmCallError, OcdmStatus

        raise OcdmCallError(
            "opencdm_session_get_challenge_data", OcdmStatus.FAIL, "challenge size is 0"
        )

    cdm.get_challenge_data = zero_size
    try:
        with pytest.raises(FailError, match="size 0"):
            await session.generate_request("drmheader", header(new_keys()))
    finally:
        cdm.get_challenge_data = real


async def test_netflix_store_license_and_decrypt_by_selected_key(netflix: MediaKeys) -> None:
    keys = new_keys(2)
    (kid1, key1), (kid2, key2) = keys.items()
    session, _ = await netflix_licensed(netflix, keys)
    assert await session.contains_key(kid1) and await session.contains_key(kid2)
    assert session.key_statuses == dict.fromkeys(keys, KeyStatus.USABLE)
    for kid, key in ((kid2, key2), (kid1, key1)):
        await session.select_key_id(kid)
        plain, iv, sample = sample_for(key)
        await session.decrypt(sample, DecryptParams(CipherMode.CENC, b"", iv))  # no key id
        assert bytes(sample) == plain
    # A sample naming the other key is decrypted with it; samples without a key id keep using the
    # selected key, and selecting it again (skipped by the core) still holds.
    plain, iv, sample = sample_for(key2)
    await session.decrypt(sample, DecryptParams(CipherMode.CENC, kid2, iv))
    assert bytes(sample) == plain
    await session.select_key_id(kid1)
    plain, iv, sample = sample_for(key1)
    await session.decrypt(sample, DecryptParams(CipherMode.CENC, b"", iv))
    assert bytes(sample) == plain


async def test_netflix_properties_message_is_not_a_renewal(netflix: MediaKeys) -> None:
    keys = new_keys(1)
    session, events = await netflix_licensed(netflix, keys)
    await session.select_key_id(next(iter(keys)))
    state = session._context.state
    assert isinstance(state, PlayReadySessionState)
    levels = state.get_play_levels()
    assert levels is not None and levels["compressed-video"] == 400
    with pytest.raises(TimeoutError):
        await events.next(0.2)


async def test_netflix_select_reaches_the_cdm_only_on_change(
    netflix: MediaKeys, refcdm: RefCdmControl
) -> None:
    keys = new_keys(2)
    kid1, kid2 = keys
    session, _ = await netflix_licensed(netflix, keys)
    await session.select_key_id(kid1)
    refcdm.inject("select_key_id", key_system=NETFLIX, fail_code=1)
    await session.select_key_id(kid1)  # same key: no CDM call, the fault stays armed
    plain, iv, sample = sample_for(keys[kid1])
    await session.decrypt(sample, DecryptParams(CipherMode.CENC, kid1, iv))
    assert bytes(sample) == plain
    with pytest.raises(FailError):
        await session.select_key_id(kid2)  # a change reaches the CDM and meets the fault
    await session.select_key_id(kid2)
    with pytest.raises(InvalidKeyIdError):
        await session.select_key_id(b"short")


async def test_netflix_no_key_selected_and_no_key_id_is_an_error(netflix: MediaKeys) -> None:
    keys = new_keys(1)
    session, _ = await netflix_licensed(netflix, keys)
    _, iv, sample = sample_for(next(iter(keys.values())))
    with pytest.raises(FailError, match="no key is selected"):
        await session.decrypt(sample, DecryptParams(CipherMode.CENC, b"", iv))
    with pytest.raises(FailError):  # an unlicensed key cannot be selected
        await session.decrypt(sample, DecryptParams(CipherMode.CENC, os.urandom(16), iv))


async def test_netflix_error_callback_during_store_fails_the_update(
    netflix: MediaKeys, refcdm: RefCdmControl
) -> None:
    keys = new_keys(1)
    session = await netflix.create_session()
    events = session.events()
    await session.generate_request("drmheader", header(keys))
    await next_event(events, LicenseRequest)
    license_ = build_test_license(NETFLIX, None, keys)
    refcdm.inject("store_license_data", key_system=NETFLIX, error_message="secure store full")
    with pytest.raises(FailError, match="secure store full"):
        await session.update(license_)
    assert next(iter(keys)) not in session.key_statuses  # nothing was installed
    await session.update(license_)
    await next_event(events, KeyStatusesChanged)
    assert await session.contains_key(next(iter(keys)))


async def test_netflix_license_key_must_match_header_checksum(netflix: MediaKeys) -> None:
    keys = new_keys(1)
    kid = next(iter(keys))
    session = await netflix.create_session()
    events = session.events()
    await session.generate_request("drmheader", header(keys))
    await next_event(events, LicenseRequest)
    with pytest.raises(InvalidLicenseError, match="CHECKSUM"):
        await session.update(build_test_license(NETFLIX, None, {kid: os.urandom(16)}))
    with pytest.raises(InvalidLicenseError, match="key system"):
        await session.update(build_test_license(PLAYREADY, None, keys))
    with pytest.raises(InvalidLicenseError, match="not this session"):
        await session.update(build_test_license(NETFLIX, "c29tZW9uZSBlbHNl", keys))
    await session.update(build_test_license(NETFLIX, None, keys))
    await next_event(events, KeyStatusesChanged)


@pytest.mark.parametrize("failing", ["cancel_challenge_data", "clean_decrypt_context"])
async def test_netflix_close_reports_a_failing_cancel_or_clean(
    netflix: MediaKeys, refcdm: RefCdmControl, failing: str
) -> None:
    keys = new_keys(1)
    session, _ = await netflix_licensed(netflix, keys)
    await session.select_key_id(next(iter(keys)))
    refcdm.inject(failing, key_system=NETFLIX, fail_code=1)
    with pytest.raises(FailError, match=failing):
        await session.close()
    state = session._context.state
    assert isinstance(state, PlayReadySessionState) and state.cleaned
    await session.close()  # both calls attempted again, now successfully
    with pytest.raises(InvalidStateError):
        await session.update(build_test_license(NETFLIX, None, keys))
    with pytest.raises(InvalidStateError):
        await session.select_key_id(next(iter(keys)))
    await session.release()


async def test_netflix_bad_headers_are_refused_before_the_cdm(netflix: MediaKeys) -> None:
    session = await netflix.create_session()
    events = session.events()
    for bad in (b"<WRMHEADER/>", b"\x01\x02\x03", "x".encode("utf-16-le") + b"\x00"):
        with pytest.raises(InvalidInitDataError):
            await session.set_drm_header(bad)
        with pytest.raises(InvalidInitDataError):
            await session.generate_request("drmheader", bad)
    assert session._context.cdm is None
    good = new_keys(1)
    await session.generate_request("drmheader", header(good))
    assert isinstance(await next_event(events), LicenseRequest)
    with pytest.raises(InvalidInitDataError):
        await session.set_drm_header(b"garbage!")  # the CDM keeps the old header


async def test_netflix_header_replaced_after_construct(netflix: MediaKeys) -> None:
    first, second = new_keys(1), new_keys(1)
    session = await netflix.create_session()
    events = session.events()
    await session.generate_request("drmheader", header(first))
    await next_event(events, LicenseRequest)
    await session.set_drm_header(header(second))
    await session.generate_request("drmheader", header(second))
    request = await next_event(events, LicenseRequest)
    assert isinstance(request, LicenseRequest)
    assert set(second) <= set(parse_challenge(request.message).kids)


async def test_netflix_renewal_is_stored_too(netflix: MediaKeys, refcdm: RefCdmControl) -> None:
    keys = new_keys(1)
    session, events = await netflix_licensed(netflix, keys)
    refcdm.renewal(await session.get_cdm_key_session_id())
    renewal = await next_event(events)
    assert isinstance(renewal, LicenseRenewal)
    await session.update(build_test_license(NETFLIX, None, keys))
    await next_event(events, KeyStatusesChanged)


async def test_system_extension_calls(netflix: MediaKeys, playready: MediaKeys) -> None:
    session, _ = await netflix_licensed(netflix, new_keys(1))
    for media_keys in (netflix, playready):
        assert await media_keys.get_ldl_session_limit() == 100
        assert await media_keys.get_drm_time() > 1_600_000_000
        stored = await media_keys.get_drm_store_hash()
        assert len(stored) >= 32 and stored == await media_keys.get_key_store_hash()
    await netflix.delete_key_store()
    await netflix.delete_drm_store()
    assert await netflix.get_drm_store_hash() != stored or stored[:32] == bytes(32)
    await session.release()


# -- standard PlayReady ---------------------------------------------------------------------------


async def test_playready_challenge_at_construct_with_the_header_la_url(
    playready: MediaKeys, refcdm: RefCdmControl
) -> None:
    keys = new_keys(2)
    session = await playready.create_session()
    events = session.events()
    await session.generate_request("cenc", build_pssh(header(keys, la_url=LA_URL)))
    request = await next_event(events)
    assert isinstance(request, LicenseRequest)
    assert request.url == LA_URL  # entities unescaped
    assert parse_challenge(request.message).kids == tuple(keys)
    license_ = PlayReadyLicenseHelper().build_license(request.message, keys)
    refcdm.inject("update", key_system=PLAYREADY, error_message="injected failure")
    with pytest.raises(FailError, match="injected failure"):
        await session.update(license_)
    await session.update(license_)
    await next_event(events, KeyStatusesChanged)
    (kid, key), _ = keys.items()
    plain, iv, sample = sample_for(key)
    await session.decrypt(sample, DecryptParams(CipherMode.CENC, kid, iv))
    assert bytes(sample) == plain
    refcdm.inject("close", key_system=PLAYREADY, fail_code=1)
    with pytest.raises(FailError):
        await session.close()
    await session.close()
    await session.release()


async def test_playready_refuses_ldl_and_repeat_requests(playready: MediaKeys) -> None:
    session = await playready.create_session()
    init_data = header(new_keys())
    with pytest.raises(NotSupportedError):
        await session.generate_request("drmheader", init_data, LimitedDurationLicense.ENABLED)
    await session.generate_request("drmheader", init_data, LimitedDurationLicense.DISABLED)
    with pytest.raises(InvalidStateError):
        await session.generate_request("drmheader", init_data)


async def test_playready_v40_header_without_la_url_gives_empty_url(playready: MediaKeys) -> None:
    keys = new_keys(1)
    session = await playready.create_session()
    events = session.events()
    raw = build_header(list(keys), version="4.0.0.0", keys=keys)
    await session.generate_request("drmheader", build_playready_object(raw))
    request = await next_event(events)
    assert isinstance(request, LicenseRequest) and request.url == ""


# -- extension calls never reach other key systems' sessions -------------------------------------


async def test_clearkey_sessions_never_reach_extension_calls(
    media_keys_factory: MediaKeysFactory, netflix: MediaKeys, refcdm: RefCdmControl
) -> None:
    clearkey = await media_keys_factory.create_media_keys("org.w3.clearkey")
    try:
        session = await clearkey.create_session()
        kid = os.urandom(16)
        await session.generate_request("keyids", b'{"kids":["' + _b64url(kid) + b'"]}')
        # Armed for every key system: a call that reached the CDM would consume and meet them.
        for operation in ("select_key_id", "set_drm_header"):
            refcdm.inject(operation, key_system="*", fail_code=1, count=1)
        with pytest.raises(InterfaceNotImplementedError):
            await session.select_key_id(kid)
        with pytest.raises(InterfaceNotImplementedError):
            await session.set_drm_header(header(new_keys()))
        with pytest.raises(InterfaceNotImplementedError):
            await clearkey.get_ldl_session_limit()
        # The injections are still armed: the Netflix session meets them.
        keys = new_keys(1)
        netflix_session, _ = await netflix_licensed(netflix, keys)
        with pytest.raises(FailError):
            await netflix_session.select_key_id(next(iter(keys)))
        with pytest.raises(FailError):
            await netflix_session.set_drm_header(header(keys))
    finally:
        await clearkey.destroy()


def _b64url(raw: bytes) -> bytes:
    import base64

    return base64.urlsafe_b64encode(raw).rstrip(b"=")


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200), st.sampled_from([b"", b'{"drmkit_test_license":1,']))
def test_fuzz_license_check_never_crashes(body: bytes, prefix: bytes) -> None:
    from drmkit_playready_netflix.licenses import check_test_license

    with contextlib.suppress(InvalidLicenseError):
        check_test_license(prefix + body, frozenset({NETFLIX}))
