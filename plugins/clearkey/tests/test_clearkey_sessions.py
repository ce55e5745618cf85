"""Clear Key through the core, the real HAL and the reference CDM: EME §8 items specific to it."""

from __future__ import annotations

import json

import pytest
from drmkit.core import (
    InvalidInitDataError,
    InvalidLicenseError,
    KeySessionType,
    KeyStatus,
    KeyStatusesChanged,
    LicenseRenewal,
    LicenseRequest,
    MediaKeys,
    MediaKeysFactory,
    MessageType,
    SessionState,
)
from drmkit.sdk.model import LicenseHelper
from drmkit.testing.flows import license_session, new_keys, next_event
from drmkit_clearkey import formats

KID = bytes.fromhex("ad13f9ea2be698b875f504a8e3ccea64")


@pytest.mark.parametrize(
    ("init_data_type", "init_data"),
    [
        ("keyids", formats.make_keyids([KID])),
        ("cenc", formats.make_common_pssh([KID])),
        ("webm", KID),
    ],
)
async def test_each_init_data_type_gives_one_w3c_request(
    media_keys: MediaKeys, init_data_type: str, init_data: bytes
) -> None:
    """EME B1: one license-request message with base64url kids and the session type."""
    session = await media_keys.create_session()
    events = session.events()
    await session.generate_request(init_data_type, init_data)
    request = await next_event(events)
    assert isinstance(request, LicenseRequest)
    document = json.loads(request.message)
    assert document["type"] == "temporary"
    assert [formats.b64_decode_lenient(k) for k in document["kids"]] == [KID]


@pytest.mark.parametrize(
    ("init_data_type", "init_data"),
    [
        ("keyids", b'{"kids":[""]}'),
        ("keyids", json.dumps({"kids": [formats.b64url_encode(bytes(600))]}).encode()),
        ("keyids", b"not json"),
        ("cenc", b"\x00\x00\xff\xffpssh" + bytes(40)),
        ("cenc", bytes.fromhex("0000003470737368000000001077efecc0b24d02ace33c1e52e2fb4b00000000")),
        ("webm", bytes(513)),
    ],
)
async def test_malformed_init_data_never_reaches_the_cdm(
    media_keys: MediaKeys, init_data_type: str, init_data: bytes
) -> None:
    session = await media_keys.create_session()
    with pytest.raises(InvalidInitDataError):
        await session.generate_request(init_data_type, init_data)
    assert session.state is SessionState.CREATED
    await session.generate_request("webm", KID)  # still usable


async def test_persistent_license_type_in_temporary_session(
    media_keys: MediaKeys, license_helper: LicenseHelper
) -> None:
    """EME C10."""
    keys = new_keys()
    session = await media_keys.create_session()
    events = session.events()
    await session.generate_request("keyids", formats.make_keyids(list(keys)))
    await next_event(events, LicenseRequest)
    with pytest.raises(InvalidLicenseError, match="persistent-license"):
        await session.update(formats.make_license(keys, "persistent-license"))
    with pytest.raises(InvalidLicenseError):
        await session.update(json.dumps({"kids": [formats.b64url_encode(KID)]}).encode())


async def test_close_reports_released_keys_or_nothing_and_empties_nothing_else(
    media_keys: MediaKeys, license_helper: LicenseHelper
) -> None:
    licensed = await license_session(media_keys, license_helper, new_keys(3))
    assert len(licensed.statuses.key_statuses) == 3
    await licensed.session.close()
    assert licensed.session.state is SessionState.CLOSED


async def test_persistent_license_load_and_remove(
    media_keys_factory: MediaKeysFactory, license_helper: LicenseHelper
) -> None:
    """EME D6: persist, load in a new MediaKeys without a new license, remove, release message."""
    first = await media_keys_factory.create_media_keys("org.w3.clearkey")
    licensed = await license_session(
        first, license_helper, session_type=KeySessionType.PERSISTENT_LICENCE
    )
    kid = next(iter(licensed.keys))
    cdm_id = await licensed.session.get_cdm_key_session_id()
    await licensed.session.close()
    await licensed.session.release()
    await first.destroy()

    second = await media_keys_factory.create_media_keys("org.w3.clearkey")
    loaded = await second.create_session(KeySessionType.PERSISTENT_LICENCE)
    events = loaded.events()
    await loaded.load(cdm_id)
    statuses = await next_event(events, KeyStatusesChanged)
    assert isinstance(statuses, KeyStatusesChanged)
    assert dict(statuses.key_statuses) == {kid: KeyStatus.USABLE}
    assert await loaded.contains_key(kid)
    await loaded.remove()
    released = await next_event(events, KeyStatusesChanged)
    assert isinstance(released, KeyStatusesChanged)
    assert dict(released.key_statuses) == {kid: KeyStatus.RELEASED}  # events flow after remove
    release_message = await next_event(events)
    assert isinstance(release_message, LicenseRenewal)
    assert release_message.message_type is MessageType.LICENSE_RELEASE
    assert license_helper.key_ids_of_request(release_message.message) == [kid]
    await loaded.update(json.dumps({"kids": [formats.b64url_encode(kid)]}).encode())
    await loaded.close()
    await loaded.release()
    again = await second.create_session(KeySessionType.PERSISTENT_LICENCE)
    with pytest.raises(Exception):  # noqa: B017 - the record is gone: a typed DrmError
        await again.load(cdm_id)
    await second.destroy()


async def test_temporary_session_cannot_load(media_keys: MediaKeys) -> None:
    from drmkit.core import NotSupportedError

    session = await media_keys.create_session()
    with pytest.raises(NotSupportedError):
        await session.load("10")


def test_describe_init_data_hook() -> None:
    from drmkit.config import PluginSettings
    from drmkit.keysystems.manager import DrmPluginManager

    manager = DrmPluginManager(PluginSettings())
    described = manager.describe_init_data(formats.COMMON_SYSTEM_ID, b"")
    assert described is not None and described["key_systems"] == ["org.w3.clearkey"]
    assert manager.describe_init_data(bytes(16), b"x") is None
