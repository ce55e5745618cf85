"""``KeySession.decrypt_many``: several samples in one worker job, same results as ``decrypt``."""

from __future__ import annotations

import asyncio
import os

import pytest
from drmkit.core import (
    CipherMode,
    DecryptParams,
    InvalidInputError,
    MediaKeys,
    Pattern,
    SessionState,
    Subsample,
)
from drmkit.errors import FailError
from drmkit.sdk.model import LicenseHelper
from drmkit.testing.cenc import encrypt_sample
from drmkit.testing.flows import license_session


def _samples(
    key: bytes, kid: bytes, count: int
) -> tuple[list[bytes], list[bytearray], list[DecryptParams]]:
    plains, encrypted, params = [], [], []
    for n in range(count):
        mode = CipherMode.CENC if n % 2 == 0 else CipherMode.CBCS
        pattern = Pattern(0, 0) if mode is CipherMode.CENC else Pattern(1, 9)
        subsamples = (Subsample(5 + n, 160), Subsample(3, 48))
        plain = os.urandom(sum(c + e for c, e in subsamples))
        iv = os.urandom(16)
        plains.append(plain)
        encrypted.append(bytearray(encrypt_sample(plain, key, iv, mode, subsamples, pattern)))
        params.append(DecryptParams(mode, kid, iv, subsamples, pattern))
    return plains, encrypted, params


async def test_batch_decrypts_every_sample_in_place(
    media_keys: MediaKeys, license_helper: LicenseHelper
) -> None:
    licensed = await license_session(media_keys, license_helper)
    kid, key = next(iter(licensed.keys.items()))
    plains, encrypted, params = _samples(key, kid, 12)
    empty = bytearray()  # skipped, as decrypt skips it
    await licensed.session.decrypt_many([*zip(encrypted, params, strict=True), (empty, params[0])])
    assert [bytes(b) for b in encrypted] == plains
    assert licensed.session.decrypt_references == 0


async def test_batch_stops_at_the_first_failing_sample(
    media_keys: MediaKeys, license_helper: LicenseHelper
) -> None:
    licensed = await license_session(media_keys, license_helper)
    kid, key = next(iter(licensed.keys.items()))
    plains, encrypted, params = _samples(key, kid, 4)
    unknown = DecryptParams(CipherMode.CENC, os.urandom(16), os.urandom(16))
    params[2] = unknown
    originals = [bytes(b) for b in encrypted]
    with pytest.raises(FailError) as caught:
        await licensed.session.decrypt_many(list(zip(encrypted, params, strict=True)))
    assert "sample 2 of a batch of 4" in (caught.value.__notes__ or [])
    assert [bytes(b) for b in encrypted[:2]] == plains[:2]  # done before the failure
    assert [bytes(b) for b in encrypted[2:]] == originals[2:]  # untouched from there on
    assert licensed.session.decrypt_references == 0


async def test_bad_input_is_rejected_before_anything_is_decrypted(
    media_keys: MediaKeys, license_helper: LicenseHelper
) -> None:
    licensed = await license_session(media_keys, license_helper)
    kid, key = next(iter(licensed.keys.items()))
    _, encrypted, params = _samples(key, kid, 2)
    originals = [bytes(b) for b in encrypted]
    with pytest.raises(InvalidInputError, match="read-only"):
        await licensed.session.decrypt_many([(encrypted[0], params[0]), (b"xx", params[1])])
    with pytest.raises(InvalidInputError, match="DecryptParams"):
        await licensed.session.decrypt_many([(encrypted[0], params[0]), (encrypted[1], None)])  # type: ignore[list-item]
    assert [bytes(b) for b in encrypted] == originals


async def test_close_during_a_batch_is_deferred_until_it_ends(
    media_keys: MediaKeys, license_helper: LicenseHelper
) -> None:
    licensed = await license_session(media_keys, license_helper)
    session = licensed.session
    kid, key = next(iter(licensed.keys.items()))
    plains, encrypted, params = _samples(key, kid, 64)
    batch = asyncio.ensure_future(session.decrypt_many(list(zip(encrypted, params, strict=True))))
    await asyncio.sleep(0)  # the batch holds its reference and is queued on the worker
    assert session.decrypt_references == 1
    await session.close()  # returns at once: deferred
    assert session.state is SessionState.CLOSED and not session.closed.done()
    await batch
    assert [bytes(b) for b in encrypted] == plains
    await asyncio.wait_for(session.closed, 5)
