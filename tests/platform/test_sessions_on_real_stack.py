"""The media-key-session API in-process over Thunder's OCDM: what its Clear Key CDM gets wrong is
adapted, refused with a typed error, or caught, never passed on as a silent wrong result."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from drmkit.core import CipherMode, DecryptParams, KeySessionType, KeyStatus, MediaKeys
from drmkit.core.wiring import open_core
from drmkit.errors import (
    FailError,
    InterfaceNotImplementedError,
    NotSupportedError,
)
from drmkit.events import KeyStatusesChanged, LicenseRequest
from drmkit.settings import Settings
from drmkit.testing.cenc import encrypt_sample
from drmkit.types import Subsample
from drmkit_clearkey import formats
from drmkit_hal import CdmSession

CLEARKEY = "org.w3.clearkey"


@pytest.fixture
async def media_keys(stack_env: dict[str, str], tmp_path: Path) -> AsyncIterator[MediaKeys]:
    settings = Settings(state_dir=tmp_path / "state", plugins={"enabled": ["clearkey"]})
    with open_core(settings) as factory:
        media_keys = await factory.create_media_keys(CLEARKEY)
        assert media_keys.cdm_profile.name == "ocdm-clearkey-r5.3"
        try:
            yield media_keys
        finally:
            await media_keys.destroy()


def _key() -> bytes:
    return bytes(b or 1 for b in os.urandom(16))


async def _requested(media_keys: MediaKeys, init_data_type: str, init_data: bytes):  # type: ignore[no-untyped-def]
    session = await media_keys.create_session(KeySessionType.TEMPORARY)
    events = session.events()
    await session.generate_request(init_data_type, init_data)
    request = await events.next(5)
    assert isinstance(request, LicenseRequest)
    return session, events, request


async def _roundtrip(session, kid: bytes, key: bytes, subsamples: bool = True) -> None:  # type: ignore[no-untyped-def]
    clear = os.urandom(600)
    iv = os.urandom(8)
    maps = [Subsample(10, 250), Subsample(40, 300)] if subsamples else []
    encrypted = encrypt_sample(clear, key, iv, CipherMode.CENC, maps)
    buffer = bytearray(encrypted)
    await session.decrypt(buffer, DecryptParams(CipherMode.CENC, kid, iv, tuple(maps)))
    assert bytes(buffer) == clear


async def test_capabilities_are_those_of_the_loaded_cdm(media_keys: MediaKeys) -> None:
    capabilities = media_keys.capabilities
    assert capabilities.encryption_schemes == {CipherMode.CENC, CipherMode.CENS}
    assert capabilities.session_types == {KeySessionType.TEMPORARY}
    assert capabilities.init_data_types == {"cenc", "keyids", "webm"}  # translated to cenc
    with pytest.raises(NotSupportedError):
        await media_keys.create_session(KeySessionType.PERSISTENT_LICENCE)


@pytest.mark.parametrize("init_data_type", ["keyids", "webm", "cenc"])
async def test_key_ids_reach_the_cdm_in_a_form_it_parses(
    media_keys: MediaKeys, init_data_type: str
) -> None:
    # base64url of this key id holds '-' and '_': OCDM-Clearkey's keyids parser stops there.
    kid, key = bytes.fromhex("fbff" + "bf" * 14), _key()
    assert "-" in formats.b64url_encode(kid) and "_" in formats.b64url_encode(kid)
    init_data = {
        "keyids": formats.make_keyids([kid]),
        "webm": kid,
        "cenc": formats.make_common_pssh([kid]),
    }[init_data_type]
    session, _, request = await _requested(media_keys, init_data_type, init_data)
    assert formats.request_key_ids(request.message) == [kid]
    await session.update(formats.make_license({kid: key}))
    await _roundtrip(session, kid, key)


async def test_a_multi_key_license_is_applied_key_by_key_in_one_batch(
    media_keys: MediaKeys,
) -> None:
    keys = {os.urandom(16): _key() for _ in range(3)}
    session, events, _ = await _requested(media_keys, "cenc", formats.make_common_pssh(keys))
    await session.update(formats.make_license(keys))
    batch = await events.next(5)
    assert isinstance(batch, KeyStatusesChanged)
    assert dict(batch.key_statuses) == dict.fromkeys(keys, KeyStatus.USABLE)
    with pytest.raises(asyncio.TimeoutError):
        await events.next(0.3)  # one batch for the license, not one per CDM update
    for kid, key in keys.items():
        await _roundtrip(session, kid, key)


async def test_a_key_the_cdm_mishandles_is_refused(media_keys: MediaKeys) -> None:
    kid = os.urandom(16)
    session, _, _ = await _requested(media_keys, "cenc", formats.make_common_pssh([kid]))
    with pytest.raises(NotSupportedError, match="0x00"):
        await session.update(formats.make_license({kid: bytes(8) + _key()[:8]}))
    good = _key()
    await session.update(formats.make_license({kid: good}))  # the session is still usable
    await _roundtrip(session, kid, good)


async def test_a_license_in_a_form_the_cdm_ignores_still_works(media_keys: MediaKeys) -> None:
    # OCDM-Clearkey ignores a JWK set whose first member is not "keys" and reports success;
    # the plugin hands it the canonical form.
    kid, key = os.urandom(16), _key()
    session, _, _ = await _requested(media_keys, "cenc", formats.make_common_pssh([kid]))
    jwk = {"kty": "oct", "kid": formats.b64url_encode(kid), "k": formats.b64url_encode(key)}
    await session.update(json.dumps({"type": "temporary", "keys": [jwk]}).encode())
    await _roundtrip(session, kid, key)


async def test_a_license_for_another_key_leaves_the_key_pending(media_keys: MediaKeys) -> None:
    kid, other = os.urandom(16), os.urandom(16)
    session, _, _ = await _requested(media_keys, "cenc", formats.make_common_pssh([kid]))
    await session.update(formats.make_license({other: _key()}))
    assert await session.contains_key(kid)
    assert session.key_statuses.get(kid) is not KeyStatus.USABLE


async def test_a_license_the_cdm_silently_ignores_is_an_error(
    media_keys: MediaKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fault injected below the plugin: the CDM returns success from update and takes nothing (as
    # OCDM-Clearkey does with a license it cannot parse). The update must fail, not succeed.
    kid = os.urandom(16)
    session, _, _ = await _requested(media_keys, "cenc", formats.make_common_pssh([kid]))
    monkeypatch.setattr(CdmSession, "update", lambda self, response: None)
    with pytest.raises(FailError, match="did not take the key"):
        await session.update(formats.make_license({kid: _key()}))


async def test_unsupported_schemes_are_refused(media_keys: MediaKeys) -> None:
    kid, key = os.urandom(16), _key()
    session, _, _ = await _requested(media_keys, "cenc", formats.make_common_pssh([kid]))
    await session.update(formats.make_license({kid: key}))
    for mode in (CipherMode.CBCS, CipherMode.CBC1):
        buffer = bytearray(64)
        with pytest.raises(NotSupportedError, match=mode.value):
            await session.decrypt(buffer, DecryptParams(mode, kid, os.urandom(16)))
        assert buffer == bytearray(64)  # untouched
    await _roundtrip(session, kid, key)


async def test_extension_calls_are_refused_not_crashing(media_keys: MediaKeys) -> None:
    kid = os.urandom(16)
    session, _, _ = await _requested(media_keys, "cenc", formats.make_common_pssh([kid]))
    for call in (session.select_key_id(kid), session.set_drm_header(b"<WRMHEADER/>")):
        with pytest.raises(InterfaceNotImplementedError):
            await call
    assert await session.get_last_drm_error() == 0  # Thunder's 0xFFFFFFFF "no error yet"
    assert await session.contains_key(kid)  # the process and the session are alive
