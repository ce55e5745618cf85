"""The simulated key systems' flows (Widevine, PlayReady, Netflix) through the HAL, with real init
data from the shared vectors and drmkit's test license format (docs/reference-cdm.md)."""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from drmkit_hal import (
    EncryptionScheme,
    Hal,
    LicenseType,
    OcdmCallError,
    OcdmKeyStatus,
    OcdmStatus,
    PlayLevels,
)
from hal_testsupport import NETFLIX, PLAYREADY, WIDEVINE, Recorder, encrypt_sample, sim_license

WPT_KID = bytes.fromhex("ad13f9ea2be698b875f504a8e3ccea64")
WPT_KEY = bytes.fromhex("be7df8a3667a6a8fd564d0ed81339a95")
MS_KID = bytes.fromhex("09e091abf83841d29e3558531fd19ec7")
MS_LA_URL = "https://profficialsite.keydelivery.mediaservices.windows.net/PlayReady/"


@pytest.fixture(scope="module")
def init_samples(vectors_dir: Path) -> dict[str, bytes]:
    entries = json.loads((vectors_dir / "initdata" / "initdata_samples.json").read_text())
    return {e["name"]: base64.b64decode(e["base64"]) for e in entries}


@pytest.mark.refcdm
def test_widevine_challenge_arrives_before_construct_returns(
    hal: Hal, recorder: Recorder, init_samples: dict[str, bytes]
) -> None:
    system = hal.create_system(WIDEVINE)
    session = system.construct_session(
        LicenseType.TEMPORARY, "cenc", init_samples["wpt_mp4_basic_wv_pr"], b"", recorder
    )
    # No waiting: the challenge was delivered before construct returned.
    ((_, url, challenge),) = recorder.of("challenge")
    assert url == "http://widevine-proxy.appspot.com/proxy"
    assert isinstance(challenge, bytes) and challenge.startswith(b"0:Type:")
    body = json.loads(challenge[len(b"0:Type:") :])
    assert body["type"] == "license-request"
    assert body["session_id"] == session.session_id
    assert body["kids"] == [WPT_KID.hex()]
    assert body["provider"] == "castlabs"
    assert re.fullmatch(r"[0-9a-f]{32}", session.session_id)

    session.update(sim_license(WIDEVINE, session.session_id, {WPT_KID: WPT_KEY}))
    assert session.status(WPT_KID) is OcdmKeyStatus.USABLE
    clear = os.urandom(300)
    data = bytearray(encrypt_sample(EncryptionScheme.CENC, WPT_KEY, b"\x09" * 8, clear))
    session.decrypt(data, scheme=EncryptionScheme.CENC, iv=b"\x09" * 8)  # no kid: first usable key
    assert bytes(data) == clear

    recorder.clear()
    hal.test_control({"op": "renewal", "session_id": session.session_id})
    ((_, _, renewal),) = recorder.of("challenge")
    assert renewal.startswith(b"1:Type:")  # type: ignore[union-attr]

    assert system.supports_server_certificate()
    system.set_server_certificate(b"\x08\x05certificate")


@pytest.mark.refcdm
def test_widevine_rejects_foreign_licenses(
    hal: Hal, recorder: Recorder, init_samples: dict[str, bytes]
) -> None:
    session = hal.create_system(WIDEVINE).construct_session(
        LicenseType.TEMPORARY, "cenc", init_samples["wpt_mp4_basic_wv_pr"], b"", recorder
    )
    with pytest.raises(OcdmCallError) as caught:
        session.update(sim_license(WIDEVINE, "another-session", {WPT_KID: WPT_KEY}))
    assert caught.value.status is OcdmStatus.INVALID_ARG
    assert ("error", "TypeError") in recorder.events


@pytest.mark.refcdm
def test_playready_xml_challenge_with_la_url(
    hal: Hal, recorder: Recorder, init_samples: dict[str, bytes]
) -> None:
    session = hal.create_system(PLAYREADY).construct_session(
        LicenseType.TEMPORARY,
        "cenc",
        init_samples["ms_playready_header_spec_v40_pro"],
        b"custom-data",
        recorder,
    )
    ((_, url, challenge),) = recorder.of("challenge")
    assert url == MS_LA_URL
    text = challenge.decode()  # type: ignore[union-attr]
    assert text.startswith("<?xml") and "<AcquireLicense" in text
    assert f'SessionId="{session.session_id}"' in text
    assert f"<KID>{MS_KID.hex()}</KID>" in text
    assert "<CustomData>custom-data</CustomData>" in text
    assert len(base64.b64decode(session.session_id)) == 16

    key = os.urandom(16)
    session.update(
        sim_license(
            PLAYREADY, session.session_id, {MS_KID: key}, **{MS_KID.hex(): "output-downscaled"}
        )
    )
    assert session.status(MS_KID) is OcdmKeyStatus.OUTPUT_DOWNSCALED
    # PlayReady matches key ids in byte-swapped GUID order too.
    swapped = MS_KID[3::-1] + MS_KID[5:3:-1] + MS_KID[7:5:-1] + MS_KID[8:]
    assert session.has_key_id(swapped)
    with pytest.raises(OcdmCallError) as caught:
        hal.create_system(PLAYREADY).set_server_certificate(b"cert")
    assert caught.value.status is OcdmStatus.METHOD_NOT_IMPLEMENTED


def _netflix_session(hal: Hal, recorder: Recorder, header: bytes):  # type: ignore[no-untyped-def]
    return hal.create_system(NETFLIX).construct_session(
        LicenseType.TEMPORARY, "", header, b"", recorder
    )


@pytest.mark.refcdm
def test_netflix_pull_flow(
    hal: Hal, recorder: Recorder, init_samples: dict[str, bytes], store_dir: Path
) -> None:
    system = hal.create_system(NETFLIX)
    header = init_samples["ms_playready_header_spec_v40_pro"]
    session = _netflix_session(hal, recorder, b"")
    assert recorder.of("challenge") == []  # no challenge at construct
    with pytest.raises(OcdmCallError):
        session.get_challenge_data()  # no DRM header yet
    session.set_drm_header(header)
    first = session.get_challenge_data(is_ldl=True)
    assert b'LDL="1"' in first and f"<KID>{MS_KID.hex()}</KID>".encode() in first
    assert session.get_challenge_data(is_ldl=True) == first  # stable between passes
    session.cancel_challenge_data()
    with pytest.raises(OcdmCallError):
        session.set_drm_header(b"not a header")

    key = os.urandom(16)
    secure_stop_id = session.store_license_data(
        sim_license(NETFLIX, session.session_id, {MS_KID: key})
    )
    assert len(secure_stop_id) == 16 and secure_stop_id != bytes(16)
    assert [e[1] for e in recorder.of("key_update")] == [MS_KID]

    with pytest.raises(OcdmCallError) as caught:
        session.select_key_id(bytes(16))  # not licensed
    assert caught.value.status is OcdmStatus.UNKNOWN
    recorder.clear()
    session.select_key_id(MS_KID)
    ((_, url, properties),) = recorder.of("challenge")
    assert url == "properties" and properties.endswith(b"\x00")  # type: ignore[union-attr]
    levels = hal.play_levels(properties.rstrip(b"\x00").decode())  # type: ignore[union-attr]
    assert levels == PlayLevels(400, 300, 150, 250, 250, 0, 0)

    # initWithLast15: the IV is a raw little-endian counter context (+ byte offset).
    clear = os.urandom(200)
    iv64, block_offset, byte_offset = 0x0102030405060708, 3, 5
    counter = iv64.to_bytes(8, "big") + block_offset.to_bytes(8, "big")
    stream = (
        Cipher(algorithms.AES(key), modes.CTR(counter)).encryptor().update(bytes(byte_offset + 200))
    )
    data = bytearray(x ^ y for x, y in zip(clear, stream[byte_offset:], strict=True))
    context = iv64.to_bytes(8, "little") + block_offset.to_bytes(8, "little") + bytes([byte_offset])
    session.decrypt(data, scheme=EncryptionScheme.CENC, iv=context, init_with_last15=True)
    assert bytes(data) == clear

    session.clean_decrypt_context()
    with pytest.raises(OcdmCallError) as caught:
        session.decrypt(bytearray(16), scheme=EncryptionScheme.CENC, iv=bytes(8))
    assert caught.value.status is OcdmStatus.UNKNOWN
    with pytest.raises(OcdmCallError) as caught:
        session.remove()
    assert caught.value.status is OcdmStatus.METHOD_NOT_IMPLEMENTED

    # System extension: LDL limit, DRM time, secure stops, store hashes.
    assert system.ldl_session_limit() == 100
    assert system.drm_time() > 1_700_000_000
    assert system.is_secure_stop_enabled()
    assert system.secure_stop_ids() == [secure_stop_id]
    record = json.loads(system.secure_stop(secure_stop_id))
    assert record["session_id"] == session.session_id
    with pytest.raises(OcdmCallError):
        system.secure_stop(bytes(16))
    system.commit_secure_stop(secure_stop_id, b"server-ack")
    assert system.secure_stop_ids() == []
    hash_before = system.secure_store_hash()
    assert (
        len(hash_before) == 64 and hash_before[32:] == bytes(32) and hash_before[:32] != bytes(32)
    )
    assert system.key_store_hash() == hash_before
    system.delete_key_store()
    system.delete_secure_store()
    assert system.secure_store_hash() != hash_before
    system.enable_secure_stop(False)
    assert not system.is_secure_stop_enabled()
    assert system.reset_secure_stops() == 0
    system.teardown()


@pytest.mark.refcdm
def test_many_secure_stops_grow_the_id_buffer(hal: Hal, init_samples: dict[str, bytes]) -> None:
    system = hal.create_system(NETFLIX)
    header = init_samples["ms_playready_header_spec_v40_pro"]
    ids = []
    for _ in range(10):  # more than MAX_NUM_SECURE_STOPS (8)
        session = _netflix_session(hal, Recorder(), header)
        ids.append(
            session.store_license_data(
                sim_license(NETFLIX, session.session_id, {MS_KID: bytes(16)})
            )
        )
        session.destruct()
    assert sorted(system.secure_stop_ids()) == sorted(ids)
    assert system.reset_secure_stops() == 10


def test_extension_calls_on_clearkey_fail_cleanly(hal: Hal) -> None:
    system = hal.create_system("org.w3.clearkey")
    session = system.construct_session(LicenseType.TEMPORARY, "webm", bytes(16), b"", Recorder())
    for call in (
        system.ldl_session_limit,
        system.key_store_hash,
        system.secure_stop_ids,
        session.get_challenge_data,
        session.cancel_challenge_data,
        session.clean_decrypt_context,
        lambda: session.store_license_data(b"{}"),
        lambda: session.select_key_id(bytes(16)),
        lambda: session.set_drm_header(b"x"),
    ):
        with pytest.raises(OcdmCallError) as caught:
            call()
        assert caught.value.status is OcdmStatus.METHOD_NOT_IMPLEMENTED
    assert not system.is_secure_stop_enabled()
