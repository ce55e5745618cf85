"""Widevine flows through the core and the real reference CDM, with faults injected by test control.

Fixtures come from drmkit's conformance kit (``drmkit.testing``): ``media_keys`` is a MediaKeys of
``com.widevine.alpha`` on the bundled reference CDM, ``refcdm`` its test control.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
from drmkit.core import (
    CipherMode,
    DecryptParams,
    KeySessionType,
    KeyStatus,
    KeyStatusesChanged,
    LicenseRenewal,
    LicenseRequest,
    MediaKeys,
    MessageType,
    SessionState,
)
from drmkit.core.listeners import EventStream
from drmkit.errors import (
    FailError,
    InvalidInitDataError,
    InvalidInputError,
    InvalidLicenseError,
    InvalidStateError,
    OutputRestrictedError,
)
from drmkit.keysystems.manager import DrmPluginManager
from drmkit.sdk import build_pssh_box
from drmkit.sdk.model import LicenseHelper
from drmkit.testing.cenc import encrypt_sample
from drmkit.testing.flows import LicensedSession, license_session, new_keys, next_event
from drmkit.testing.refcdm import RefCdmControl
from drmkit_widevine import plugin as plugin_module
from drmkit_widevine.initdata import make_widevine_pssh
from drmkit_widevine.licenses import build_signed_message
from drmkit_widevine.pssh_data import WIDEVINE_SYSTEM_ID
from drmkit_widevine.session_state import WidevineCallbacks
from drmkit_widevine.simulated import build_test_license, parse_simulated_challenge

KEY_SYSTEM = "com.widevine.alpha"
PROXY_URL = "http://widevine-proxy.appspot.com/proxy"


async def decrypts(session: Any, kid: bytes, key: bytes) -> bool:
    """Decrypt one cenc sample; ``True`` if it came back as the plaintext."""
    plain, iv = os.urandom(100), os.urandom(8)
    sample = bytearray(encrypt_sample(plain, key, iv, CipherMode.CENC))
    await session.decrypt(sample, DecryptParams(CipherMode.CENC, kid, iv))
    return bytes(sample) == plain


async def statuses(events: EventStream) -> dict[bytes, KeyStatus]:
    event = await next_event(events, KeyStatusesChanged)
    assert isinstance(event, KeyStatusesChanged)
    return dict(event.key_statuses)


# -- requests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("init_data_type", ["cenc", "keyids", "webm"])
async def test_request_event_has_its_type_and_the_bare_message(
    media_keys: MediaKeys, license_helper: LicenseHelper, init_data_type: str
) -> None:
    licensed = await license_session(
        media_keys, license_helper, new_keys(), init_data_type=init_data_type
    )
    request = licensed.request
    assert request.message_type is MessageType.LICENSE_REQUEST
    assert request.url == PROXY_URL
    assert request.message.startswith(b"{")  # "0:Type:" stripped
    challenge = parse_simulated_challenge(request.message)
    assert challenge.message_type == "license-request"
    assert challenge.kids == tuple(licensed.keys)
    assert challenge.session_id == await licensed.session.get_cdm_key_session_id()
    kid, key = next(iter(licensed.keys.items()))
    assert await decrypts(licensed.session, kid, key)


async def test_real_init_data_with_widevine_and_playready_boxes(
    media_keys: MediaKeys, license_helper: LicenseHelper, drmkit_vectors_dir: Path
) -> None:
    samples = json.loads((drmkit_vectors_dir / "initdata" / "initdata_samples.json").read_text())
    sample = next(s for s in samples if s["name"] == "wpt_mp4_basic_wv_pr")
    keys = {bytes.fromhex(k): bytes.fromhex(v) for k, v in sample["keys"].items()}
    session = await media_keys.create_session()
    events = session.events()
    await session.generate_request("cenc", base64.b64decode(sample["base64"]))
    request = await next_event(events, LicenseRequest)
    assert isinstance(request, LicenseRequest)
    assert license_helper.key_ids_of_request(request.message) == list(keys)
    await session.update(license_helper.build_license(request.message, keys))
    assert await statuses(events) == {kid: KeyStatus.USABLE for kid in keys}
    kid, key = next(iter(keys.items()))
    assert await decrypts(session, kid, key)


async def test_bad_init_data_never_reaches_the_cdm(
    media_keys: MediaKeys, refcdm: RefCdmControl
) -> None:
    kid = os.urandom(16)
    good = make_widevine_pssh([kid])
    lying = bytearray(good)
    lying[3] += 4  # the box claims 4 bytes more than there are
    bad_inputs = [
        ("cenc", bytes(lying)),
        ("cenc", build_pssh_box(bytes(16), b"")),  # no Widevine box
        ("cenc", build_pssh_box(WIDEVINE_SYSTEM_ID, b"\x12\x10" + kid[:5])),  # truncated field
        ("cenc", build_pssh_box(WIDEVINE_SYSTEM_ID, b"\x1a\x03abc")),  # no key ids, no content
        ("webm", bytes(17)),
        ("keyids", b'{"kids":[]}'),
    ]
    session = await media_keys.create_session()
    before = refcdm.stats()["sessions"]
    for init_data_type, data in bad_inputs:
        with pytest.raises(InvalidInitDataError):
            await session.generate_request(init_data_type, data)
        assert refcdm.stats()["sessions"] == before
    assert session.state is SessionState.CREATED
    events = session.events()
    await session.generate_request("cenc", good)
    assert isinstance(await next_event(events), LicenseRequest)


async def test_an_empty_challenge_fails_the_generate_request(
    media_keys: MediaKeys, refcdm: RefCdmControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    class EmptyChallenge(WidevineCallbacks):
        """Fault: the CDM answers generateRequest with an empty message (OCDM's failure)."""

        def on_challenge(self, url: str, challenge: bytes) -> None:
            super().on_challenge("", challenge[: challenge.index(b":Type:") + 6])

    kid = os.urandom(16)
    session = await media_keys.create_session()
    events = session.events()
    before = refcdm.stats()["sessions"]
    monkeypatch.setattr(plugin_module, "WidevineCallbacks", EmptyChallenge)
    with pytest.raises(FailError, match="could not generate a license request"):
        await session.generate_request("cenc", make_widevine_pssh([kid]))
    assert refcdm.stats()["sessions"] == before  # the CDM session was dropped
    assert session.state is SessionState.CREATED
    monkeypatch.undo()
    await session.generate_request("cenc", make_widevine_pssh([kid]))  # a retry works
    event = await next_event(events)
    assert isinstance(event, LicenseRequest) and event.message


async def test_individualization_request_comes_before_the_license_request(
    media_keys: MediaKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    class ProvisioningFirst(WidevineCallbacks):
        """Fault: the CDM must be provisioned first (OCDM Widevine's "3:Type:" message)."""

        def on_challenge(self, url: str, challenge: bytes) -> None:
            if challenge.startswith(b"0:Type:"):
                super().on_challenge("", b"3:Type:provisioning-request")
            super().on_challenge(url, challenge)

    monkeypatch.setattr(plugin_module, "WidevineCallbacks", ProvisioningFirst)
    session = await media_keys.create_session()
    events = session.events()
    await session.generate_request("cenc", make_widevine_pssh([os.urandom(16)]))
    first, second = await next_event(events), await next_event(events)
    assert isinstance(first, LicenseRequest) and isinstance(second, LicenseRequest)
    assert first.message_type is MessageType.INDIVIDUALIZATION_REQUEST
    assert first.message == b"provisioning-request"
    assert second.message_type is MessageType.LICENSE_REQUEST


async def test_failing_construct_leaves_the_session_ready_for_a_retry(
    media_keys: MediaKeys, refcdm: RefCdmControl
) -> None:
    session = await media_keys.create_session()
    events = session.events()
    before = refcdm.stats()["sessions"]
    refcdm.inject("construct", key_system=KEY_SYSTEM, fail_code=1)
    init_data = make_widevine_pssh([os.urandom(16)])
    with pytest.raises(FailError):
        await session.generate_request("cenc", init_data)
    assert refcdm.stats()["sessions"] == before
    assert session.state is SessionState.CREATED
    await session.generate_request("cenc", init_data)
    assert isinstance(await next_event(events), LicenseRequest)


# -- licenses ------------------------------------------------------------------------------------


async def test_license_for_another_session_is_refused_before_the_cdm(
    media_keys: MediaKeys, license_helper: LicenseHelper
) -> None:
    keys = new_keys()
    first, second = await media_keys.create_session(), await media_keys.create_session()
    first_events, second_events = first.events(), second.events()
    for session in (first, second):
        await session.generate_request(*license_helper.init_data(list(keys))[0])
    second_request = await next_event(second_events, LicenseRequest)
    assert isinstance(second_request, LicenseRequest)
    with pytest.raises(InvalidLicenseError, match="not this session"):
        await first.update(license_helper.build_license(second_request.message, keys))
    assert await first.get_last_drm_error() == 0  # the CDM never saw it
    own_id = await first.get_cdm_key_session_id()
    wrong_system = json.loads(build_test_license(own_id, keys))
    wrong_system["key_system"] = "com.microsoft.playready"
    with pytest.raises(InvalidLicenseError, match="key system"):
        await first.update(json.dumps(wrong_system).encode())
    release_answer = json.loads(build_test_license(own_id, keys))
    release_answer["type"] = "license-release"
    for bad in (
        b'{"drmkit_test_license":1,"key_system":"com.widevine.alpha","session_id":"x"}',
        b'{"drmkit_test_license":1, "oops"',
        json.dumps(release_answer).encode(),
    ):
        with pytest.raises(InvalidLicenseError):
            await first.update(bad)
    await first.update(build_test_license(own_id, keys, answers="license-request"))
    assert await statuses(first_events) == {kid: KeyStatus.USABLE for kid in keys}


async def test_real_license_envelopes_are_checked_before_the_cdm(
    media_keys: MediaKeys, license_helper: LicenseHelper
) -> None:
    keys = new_keys()
    session = await media_keys.create_session()
    events = session.events()
    await session.generate_request(*license_helper.init_data(list(keys))[0])
    request = await next_event(events, LicenseRequest)
    assert isinstance(request, LicenseRequest)
    with pytest.raises(InvalidLicenseError, match="is a request"):
        await session.update(build_signed_message("LICENSE_REQUEST", b"echo"))
    assert await session.get_last_drm_error() == 0  # refused before the CDM
    # A well-formed envelope reaches the CDM, which verifies the payload (the simulation only
    # takes test licenses, as a device's CDM takes only licenses signed for it).
    with pytest.raises(FailError) as refused:
        await session.update(build_signed_message("LICENSE", b"payload", b"signature"))
    assert not isinstance(refused.value, InvalidLicenseError)
    assert "TypeError" in str(refused.value)
    await session.update(license_helper.build_license(request.message, keys))  # still pending
    assert await statuses(events) == {kid: KeyStatus.USABLE for kid in keys}


async def test_error_callback_during_update_keeps_the_request_pending(
    media_keys: MediaKeys, license_helper: LicenseHelper, refcdm: RefCdmControl
) -> None:
    keys = new_keys()
    session = await media_keys.create_session()
    events = session.events()
    await session.generate_request(*license_helper.init_data(list(keys))[0])
    request = await next_event(events, LicenseRequest)
    assert isinstance(request, LicenseRequest)
    license_ = license_helper.build_license(request.message, keys)
    refcdm.inject("update", key_system=KEY_SYSTEM, error_message="TypeError")
    with pytest.raises(FailError, match="TypeError"):
        await session.update(license_)
    await session.update(license_)  # the request is still pending: the same answer is taken
    assert await statuses(events) == {kid: KeyStatus.USABLE for kid in keys}


# -- renewals ------------------------------------------------------------------------------------


async def renew(licensed: LicensedSession, refcdm: RefCdmControl) -> LicenseRenewal:
    refcdm.renewal(await licensed.session.get_cdm_key_session_id())
    event = await next_event(licensed.events, LicenseRenewal)
    assert isinstance(event, LicenseRenewal)
    return event


async def test_renewal_event_and_response_keep_keys_usable(
    media_keys: MediaKeys, license_helper: LicenseHelper, refcdm: RefCdmControl
) -> None:
    licensed = await license_session(media_keys, license_helper, new_keys(2))
    for _ in range(2):
        renewal = await renew(licensed, refcdm)
        assert renewal.message_type is MessageType.LICENSE_RENEWAL
        assert parse_simulated_challenge(renewal.message).message_type == "license-renewal"
        await licensed.session.update(license_helper.build_license(renewal.message, licensed.keys))
        assert await statuses(licensed.events) == {k: KeyStatus.USABLE for k in licensed.keys}
    for kid, key in licensed.keys.items():
        assert await decrypts(licensed.session, kid, key)


async def test_renewal_response_without_a_pending_renewal_is_refused(
    media_keys: MediaKeys, license_helper: LicenseHelper, refcdm: RefCdmControl
) -> None:
    licensed = await license_session(media_keys, license_helper)
    session = licensed.session
    own_id = await session.get_cdm_key_session_id()
    unasked = build_test_license(own_id, licensed.keys, answers="license-renewal")
    with pytest.raises(InvalidStateError, match="license-renewal but none is pending"):
        await session.update(unasked)
    renewal = await renew(licensed, refcdm)
    answer = license_helper.build_license(renewal.message, licensed.keys)
    await session.update(answer)
    await statuses(licensed.events)
    with pytest.raises(InvalidStateError, match="none is pending"):
        await session.update(answer)  # answered already
    kid, key = next(iter(licensed.keys.items()))
    assert await decrypts(session, kid, key)  # the session is unharmed


async def test_expired_key_comes_back_with_the_renewal(
    media_keys: MediaKeys, license_helper: LicenseHelper, refcdm: RefCdmControl
) -> None:
    licensed = await license_session(media_keys, license_helper)
    kid, key = next(iter(licensed.keys.items()))
    refcdm.key_status(await licensed.session.get_cdm_key_session_id(), kid, "expired")
    assert await statuses(licensed.events) == {kid: KeyStatus.EXPIRED}
    with pytest.raises(FailError):
        await decrypts(licensed.session, kid, key)
    renewal = await renew(licensed, refcdm)
    await licensed.session.update(license_helper.build_license(renewal.message, licensed.keys))
    assert await statuses(licensed.events) == {kid: KeyStatus.USABLE}
    assert await decrypts(licensed.session, kid, key)


async def test_output_restricted_key_refuses_decrypt(
    media_keys: MediaKeys, license_helper: LicenseHelper, refcdm: RefCdmControl
) -> None:
    licensed = await license_session(media_keys, license_helper)
    kid, key = next(iter(licensed.keys.items()))
    refcdm.key_status(await licensed.session.get_cdm_key_session_id(), kid, "output-restricted")
    assert await statuses(licensed.events) == {kid: KeyStatus.OUTPUT_RESTRICTED}
    with pytest.raises(OutputRestrictedError):
        await decrypts(licensed.session, kid, key)


# -- remove, persistence, server certificate, capabilities ---------------------------------------


async def test_remove_releases_keys_and_sends_a_release_message(
    media_keys: MediaKeys, license_helper: LicenseHelper
) -> None:
    licensed = await license_session(media_keys, license_helper, new_keys(2))
    await licensed.session.remove()
    assert licensed.session.state is SessionState.REMOVED
    # The CDM sends the release message after the statuses; the core reads statuses on its
    # worker, so the two events may reach the application in either order.
    received = [await next_event(licensed.events), await next_event(licensed.events)]
    (release,) = [e for e in received if isinstance(e, LicenseRenewal)]
    (released,) = [e for e in received if isinstance(e, KeyStatusesChanged)]
    assert release.message_type is MessageType.LICENSE_RELEASE
    assert parse_simulated_challenge(release.message).message_type == "license-release"
    assert dict(released.key_statuses) == {k: KeyStatus.RELEASED for k in licensed.keys}


async def test_persistent_license_is_loaded_in_a_new_session(
    media_keys: MediaKeys, license_helper: LicenseHelper
) -> None:
    persistent = KeySessionType.PERSISTENT_LICENCE
    licensed = await license_session(media_keys, license_helper, session_type=persistent)
    cdm_id = await licensed.session.get_cdm_key_session_id()
    assert parse_simulated_challenge(licensed.request.message).license_type != "temporary"
    await licensed.session.close()
    await licensed.session.release()
    loaded = await media_keys.create_session(persistent)
    events = loaded.events()
    await loaded.load(cdm_id)
    assert await statuses(events) == {k: KeyStatus.USABLE for k in licensed.keys}
    assert await loaded.get_cdm_key_session_id() == cdm_id
    kid, key = next(iter(licensed.keys.items()))
    assert await decrypts(loaded, kid, key)
    with pytest.raises(InvalidStateError, match="none is pending"):  # loading asked for nothing
        await loaded.update(build_test_license(cdm_id, licensed.keys, answers="license-renewal"))
    await loaded.remove()
    assert await statuses(events) == {k: KeyStatus.RELEASED for k in licensed.keys}


async def test_server_certificate_and_declared_capabilities(
    media_keys: MediaKeys, refcdm: RefCdmControl
) -> None:
    capabilities = media_keys.capabilities
    assert capabilities.server_certificate
    assert {"SW_SECURE_CRYPTO", "HW_SECURE_ALL"} <= set(capabilities.robustness_levels)
    assert KeySessionType.PERSISTENT_LICENCE in capabilities.session_types
    assert capabilities.init_data_types == frozenset({"cenc", "keyids", "webm"})
    assert await media_keys.supports_server_certificate()
    await media_keys.set_server_certificate(b"\x08\x05service-certificate")
    with pytest.raises(InvalidInputError):
        await media_keys.set_server_certificate(b"")
    refcdm.inject("set_server_certificate", key_system=KEY_SYSTEM, fail_code=1)
    with pytest.raises(FailError):
        await media_keys.set_server_certificate(b"\x08\x05service-certificate")
    await media_keys.set_server_certificate(b"\x08\x05service-certificate")


def test_describe_init_data_hook(drmkit_plugin_manager: DrmPluginManager) -> None:
    manager = drmkit_plugin_manager
    kid = os.urandom(16)
    data = make_widevine_pssh([kid, kid], provider="widevine_test")[32:]
    described = manager.describe_init_data(WIDEVINE_SYSTEM_ID, data)
    assert described is not None
    assert described["key_ids"] == [kid.hex()]
    assert described["repeated_key_ids"] == 1
    assert described["provider"] == "widevine_test"
    assert described["protection_scheme"] == "cenc"
    broken = manager.describe_init_data(WIDEVINE_SYSTEM_ID, b"\x12\x40short")
    assert broken is not None and "not a WidevinePsshData" in broken["error"]
    assert manager.describe_init_data(bytes(16), data) is None
