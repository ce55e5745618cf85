"""Conformance: decrypt in place per scheme; deferred close/release (EME §8 E, Rialto 2.7)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable

import pytest
from drmkit.core import (
    BadSessionIdError,
    CipherMode,
    DecryptParams,
    InvalidInputError,
    InvalidStateError,
    KeyStatus,
    KeyStatusesChanged,
    MediaKeysApi,
    OutputRestrictedError,
    Pattern,
    SessionState,
    Subsample,
)
from drmkit.errors import DrmError, FailError
from drmkit.sdk.model import LicenseHelper
from drmkit.testing.cenc import encrypt_sample
from drmkit.testing.flows import license_session, next_event
from drmkit.testing.refcdm import RefCdmControl

# Marked for pytest-asyncio explicitly: a vendor's repository need not set asyncio_mode.
pytestmark = [pytest.mark.drmkit_conformance, pytest.mark.asyncio]

CASES = [
    pytest.param(CipherMode.CENC, 8, (), Pattern(0, 0), id="cenc-full-8byte-iv"),
    pytest.param(
        CipherMode.CENC,
        16,
        (Subsample(5, 37), Subsample(100, 61), Subsample(3, 0)),
        Pattern(0, 0),
        id="cenc-subsamples-carry-over",
    ),
    pytest.param(
        CipherMode.CBCS, 16, (Subsample(10, 300), Subsample(2, 40)), Pattern(1, 9), id="cbcs-1-9"
    ),
    pytest.param(CipherMode.CBCS, 16, (), Pattern(0, 0), id="cbcs-0-0-tail-clear"),
    pytest.param(CipherMode.CENS, 16, (Subsample(4, 200),), Pattern(2, 8), id="cens-2-8"),
    pytest.param(
        CipherMode.CBC1, 16, (Subsample(7, 64), Subsample(1, 32)), Pattern(0, 0), id="cbc1"
    ),
]


@pytest.mark.parametrize(("mode", "iv_size", "subsamples", "pattern"), CASES)
async def test_decrypt_reproduces_plaintext(
    media_keys: MediaKeysApi,
    license_helper: LicenseHelper,
    mode: CipherMode,
    iv_size: int,
    subsamples: tuple[Subsample, ...],
    pattern: Pattern,
) -> None:
    if mode not in media_keys.capabilities.encryption_schemes:
        pytest.skip(f"{mode} is not a capability of {media_keys.key_system} on this CDM")
    licensed = await license_session(media_keys, license_helper)
    kid, key = next(iter(licensed.keys.items()))
    size = sum(c + e for c, e in subsamples) if subsamples else 333
    plain = os.urandom(size)
    iv = os.urandom(iv_size)
    sample = bytearray(encrypt_sample(plain, key, iv, mode, subsamples, pattern))
    assert sample != plain
    params = DecryptParams(mode, kid, iv, subsamples, pattern)
    await licensed.session.decrypt(sample, params)
    assert bytes(sample) == plain


async def test_decrypt_by_session_id(
    media_keys: MediaKeysApi, license_helper: LicenseHelper
) -> None:
    """Rialto's by-id calls: ``decrypt`` and ``decrypt_many`` on the MediaKeys; unknown ids fail."""
    licensed = await license_session(media_keys, license_helper)
    kid, key = next(iter(licensed.keys.items()))
    plain = [os.urandom(100), os.urandom(37)]
    ivs = [os.urandom(16) for _ in plain]
    samples = [
        bytearray(encrypt_sample(p, key, iv, CipherMode.CENC))
        for p, iv in zip(plain, ivs, strict=True)
    ]
    params = [DecryptParams(CipherMode.CENC, kid, iv) for iv in ivs]
    session_id = licensed.session.id
    await media_keys.decrypt(session_id, samples[0], params[0])
    assert bytes(samples[0]) == plain[0]
    batch = [
        bytearray(encrypt_sample(p, key, iv, CipherMode.CENC))
        for p, iv in zip(plain, ivs, strict=True)
    ]
    await media_keys.decrypt_many(session_id, list(zip(batch, params, strict=True)))
    assert [bytes(b) for b in batch] == plain
    unknown = session_id + 10**6
    with pytest.raises(BadSessionIdError):
        await media_keys.decrypt(unknown, bytearray(samples[1]), params[1])
    with pytest.raises(BadSessionIdError):
        await media_keys.decrypt_many(unknown, [(bytearray(samples[1]), params[1])])
    with pytest.raises(BadSessionIdError):
        await media_keys.decrypt_many(unknown, [])


async def test_decrypt_with_wrong_or_missing_key(
    media_keys: MediaKeysApi,
    license_helper: LicenseHelper,
    drmkit_new_keys: Callable[..., dict[bytes, bytes]],
) -> None:
    licensed = await license_session(media_keys, license_helper)
    kid, key = next(iter(licensed.keys.items()))
    plain = os.urandom(64)
    iv = os.urandom(8)
    encrypted = encrypt_sample(plain, key, iv, CipherMode.CENC)
    sample = bytearray(encrypted)
    with pytest.raises(FailError):  # E3: no usable key is a distinct error, not garbage
        await licensed.session.decrypt(sample, DecryptParams(CipherMode.CENC, os.urandom(16), iv))
    # E6: another key of the session decrypts to something else, never the plaintext.
    other = drmkit_new_keys()
    await licensed.session.update(license_helper.build_license(b"", other))
    other_kid = next(iter(other))
    for _ in range(50):
        if await licensed.session.contains_key(other_kid):
            break
        await asyncio.sleep(0.01)
    sample = bytearray(encrypted)
    with contextlib.suppress(DrmError):
        await licensed.session.decrypt(sample, DecryptParams(CipherMode.CENC, other_kid, iv))
    assert bytes(sample) != plain
    sample = bytearray(encrypted)
    await licensed.session.decrypt(sample, DecryptParams(CipherMode.CENC, kid, iv))
    assert bytes(sample) == plain  # the session still works


async def test_decrypt_bad_input(media_keys: MediaKeysApi, license_helper: LicenseHelper) -> None:
    licensed = await license_session(media_keys, license_helper)
    kid = next(iter(licensed.keys))
    params = DecryptParams(CipherMode.CENC, kid, bytes(8))
    with pytest.raises(InvalidInputError):
        await licensed.session.decrypt(b"read-only bytes", params)
    with pytest.raises(InvalidInputError):
        await licensed.session.decrypt(bytearray(32), "not params")  # type: ignore[arg-type]
    bad_subsamples = DecryptParams(CipherMode.CENC, kid, bytes(8), (Subsample(1, 1),))
    with pytest.raises(FailError):
        await licensed.session.decrypt(bytearray(32), bad_subsamples)
    with pytest.raises(FailError):
        await licensed.session.decrypt(bytearray(32), DecryptParams(CipherMode.CENC, kid, bytes(3)))


async def test_decrypt_before_request_and_after_close(
    media_keys: MediaKeysApi, license_helper: LicenseHelper
) -> None:
    fresh = await media_keys.create_session()
    params = DecryptParams(CipherMode.CENC, bytes(16), bytes(8))
    with pytest.raises(InvalidStateError):
        await fresh.decrypt(bytearray(16), params)
    licensed = await license_session(media_keys, license_helper)
    await licensed.session.close()
    with pytest.raises(InvalidStateError):
        await licensed.session.decrypt(bytearray(16), params)


async def test_close_and_release_deferred_while_decrypt_references_held(
    media_keys: MediaKeysApi, license_helper: LicenseHelper
) -> None:
    """Rialto ``shouldCloseKeySessionDeferred`` / ``shouldReleaseKeySessionDeferred``."""
    licensed = await license_session(media_keys, license_helper)
    session = licensed.session
    kid, key = next(iter(licensed.keys.items()))
    plain = os.urandom(48)
    iv = os.urandom(16)
    encrypted = encrypt_sample(plain, key, iv, CipherMode.CENC)
    params = DecryptParams(CipherMode.CENC, kid, iv)
    async with session.decrypt_reference():
        await session.close()  # OK at once, deferred
        await session.release()  # OK at once, deferred
        assert session.state is SessionState.RELEASED
        assert session.id not in media_keys.session_ids
        assert not session.closed.done()
        # The holder keeps decrypting (the pipeline's queued buffers).
        sample = bytearray(encrypted)
        await media_keys.decrypt(session.id, sample, params)
        assert bytes(sample) == plain
        with pytest.raises(BadSessionIdError):
            await media_keys.close_key_session(session.id)
    await asyncio.wait_for(session.closed, 5)  # ran when the last reference was dropped
    with pytest.raises(BadSessionIdError):
        await session.decrypt(bytearray(encrypted), params)
    with pytest.raises(InvalidStateError):
        session.release_decrypt_reference()


async def test_decrypt_reference_counting(
    media_keys: MediaKeysApi, license_helper: LicenseHelper
) -> None:
    licensed = await license_session(media_keys, license_helper)
    session = licensed.session
    session.acquire_decrypt_reference()
    session.acquire_decrypt_reference()
    await session.close()
    assert session.decrypt_references == 2
    session.release_decrypt_reference()
    await asyncio.sleep(0.05)
    assert not session.closed.done()
    session.release_decrypt_reference()
    await asyncio.wait_for(session.closed, 5)
    await session.release()


@pytest.mark.parametrize(
    ("cdm_status", "expected"),
    [
        ("output-restricted", KeyStatus.OUTPUT_RESTRICTED),
        ("output-restricted-hdcp22", KeyStatus.OUTPUT_RESTRICTED),
        ("expired", KeyStatus.EXPIRED),
        ("output-downscaled", KeyStatus.INTERNAL_ERROR),
        ("hw-error", KeyStatus.INTERNAL_ERROR),
    ],
)
async def test_key_status_changes_and_output_protection(
    media_keys: MediaKeysApi,
    license_helper: LicenseHelper,
    refcdm: RefCdmControl,
    cdm_status: str,
    expected: KeyStatus,
) -> None:
    """Rialto's status table, and OUTPUT_RESTRICTED on decrypt while HDCP forbids the key."""
    licensed = await license_session(media_keys, license_helper)
    session = licensed.session
    kid, key = next(iter(licensed.keys.items()))
    cdm_id = await session.get_cdm_key_session_id()
    refcdm.key_status(cdm_id, kid, cdm_status)
    event = await next_event(licensed.events, KeyStatusesChanged)
    assert isinstance(event, KeyStatusesChanged)
    assert dict(event.key_statuses) == {kid: expected}
    assert session.key_statuses[kid] is expected
    plain = os.urandom(64)
    iv = os.urandom(16)
    params = DecryptParams(CipherMode.CENC, kid, iv)
    encrypted = encrypt_sample(plain, key, iv, CipherMode.CENC)
    if expected is KeyStatus.OUTPUT_RESTRICTED:
        with pytest.raises(OutputRestrictedError):
            await session.decrypt(bytearray(encrypted), params)
        refcdm.key_status(cdm_id, kid, "usable")  # HDCP recovers
        await next_event(licensed.events, KeyStatusesChanged)
        sample = bytearray(encrypted)
        await session.decrypt(sample, params)
        assert bytes(sample) == plain
