"""System-level calls and session getters of every kind."""

from __future__ import annotations

import json
import threading

import pytest
from drmkit_hal import Hal, LicenseType, OcdmCallError, OcdmKeyStatus, OcdmStatus
from hal_testsupport import CLEARKEY, WIDEVINE, Recorder, jwk_license, keyids_init_data

KID = bytes.fromhex("55555555555555555555555555555555")
KEY = bytes(range(16, 32))


def test_type_support_and_systems(hal: Hal) -> None:
    simulated = (
        WIDEVINE,
        "com.microsoft.playready",
        "com.youtube.playready",
        "com.netflix.playready",
    )
    for key_system in (CLEARKEY, "org.chromium.externalclearkey", *(simulated * hal.is_reference)):
        assert hal.is_type_supported(key_system)
        assert hal.is_type_supported(key_system, 'video/mp4; codecs="avc1.42E01E"')
    assert not hal.is_type_supported("com.example.none")
    with pytest.raises(OcdmCallError) as caught:
        hal.create_system("com.example.none")
    assert caught.value.status is OcdmStatus.KEYSYSTEM_NOT_SUPPORTED
    system = hal.create_system(CLEARKEY)
    assert hal.create_system(CLEARKEY) is system  # one system per key system per HAL
    assert hal.systems() == [system]


@pytest.mark.refcdm
def test_system_getters(hal: Hal) -> None:
    system = hal.create_system(CLEARKEY)
    assert system.version().startswith("drmkit-refcdm")
    metadata = json.loads(system.metadata())
    assert metadata["key_system"] == CLEARKEY
    assert system.drm_time() > 1_700_000_000
    assert not system.supports_server_certificate()
    with pytest.raises(OcdmCallError):
        system.set_server_certificate(b"cert")
    before = json.loads(system.metric_data())
    system.construct_session(LicenseType.TEMPORARY, "webm", KID, b"", Recorder())
    assert json.loads(system.metric_data())["sessions_created"] == before["sessions_created"] + 1


@pytest.mark.refcdm
def test_session_getters(hal: Hal) -> None:
    session = hal.create_system(CLEARKEY).construct_session(
        LicenseType.TEMPORARY, "keyids", keyids_init_data(KID), b"", Recorder()
    )
    metadata = json.loads(session.metadata())
    assert metadata["session_id"] == session.session_id
    assert session.buffer_id() == ""
    assert session.system_error() == 0
    assert session.error() == 0
    session.reset_output_protection()
    with pytest.raises(OcdmCallError):
        session.update(b"{}")
    assert session.system_error() == OcdmStatus.INVALID_ARG
    session.update(jwk_license({KID: KEY}))
    session.decrypt(bytearray(32), scheme=1, key_id=KID)  # type: ignore[arg-type]
    assert session.buffer_id() == f"refcdm-{session.session_id}"
    assert isinstance(json.loads(session.metric_data()), dict)
    hal.test_control(
        {
            "op": "key_status",
            "session_id": session.session_id,
            "key_id": KID.hex(),
            "status": "hw-error",
        }
    )
    assert session.error(KID) == OcdmKeyStatus.HW_ERROR


def test_find_session_by_usable_key(hal: Hal, baseline: dict[str, object]) -> None:
    system = hal.create_system(CLEARKEY)
    session = system.construct_session(
        LicenseType.TEMPORARY, "keyids", keyids_init_data(KID), b"", Recorder()
    )
    assert hal.find_session(KID) is None  # pending, not usable
    timer = threading.Timer(0.1, lambda: session.update(jwk_license({KID: KEY})))
    timer.start()
    found = system.find_session(KID, wait_ms=3000)  # woken by the status change
    timer.join()
    assert found is session
    assert hal.find_session(KID) is session
    with pytest.raises(ValueError):
        hal.find_session(b"short")
    # The extra reference of get_session was given back: destruct frees the session.
    session.destruct()
    assert hal.test_control({"op": "stats"})["sessions"] == baseline["sessions"]


def test_destructing_a_system_destructs_its_sessions(hal: Hal, baseline: dict[str, object]) -> None:
    system = hal.create_system(CLEARKEY)
    sessions = [
        system.construct_session(LicenseType.TEMPORARY, "webm", KID, b"", Recorder())
        for _ in range(3)
    ]
    system.destruct()
    system.destruct()
    assert system.destructed and all(s.destructed for s in sessions)
    assert hal.test_control({"op": "stats"}) == baseline
    assert hal.create_system(CLEARKEY) is not system  # a fresh one


@pytest.mark.refcdm
def test_control_and_configure_replies(hal: Hal, store_dir: object) -> None:
    reply = hal.configure({"store_dir": str(store_dir)})
    assert reply["store_dir"] == str(store_dir)
    assert hal.test_control(
        {"op": "inject", "operation": "decrypt", "fail_code": 1, "count": 3}
    ) == {"injections": 1}
    with pytest.raises(OcdmCallError):
        hal.configure({"store_dir": "relative/path"})
