"""Every fault the reference CDM's test control injects, observed through the HAL."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path

import pytest
from drmkit_hal import EncryptionScheme, Hal, LicenseType, OcdmCallError, OcdmStatus
from hal_testsupport import CLEARKEY, Recorder, jwk_license, keyids_init_data

KID = bytes.fromhex("33333333333333333333333333333333")
KEY = bytes.fromhex("0f0e0d0c0b0a09080706050403020100")

pytestmark = pytest.mark.refcdm


def _session(hal: Hal, recorder: Recorder):  # type: ignore[no-untyped-def]
    return hal.create_system(CLEARKEY).construct_session(
        LicenseType.TEMPORARY, "keyids", keyids_init_data(KID), b"", recorder
    )


def _inject(hal: Hal, operation: str, **fields: object) -> None:
    hal.test_control({"op": "inject", "operation": operation, **fields})


def test_delay_slows_the_operation_without_holding_the_gil(hal: Hal, recorder: Recorder) -> None:
    session = _session(hal, recorder)
    _inject(hal, "update", delay_ms=300, count=1)
    ticks = 0
    done = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    spinner = threading.Thread(target=spin)
    spinner.start()
    started = time.monotonic()
    session.update(jwk_license({KID: KEY}))
    elapsed = time.monotonic() - started
    done.set()
    spinner.join()
    assert elapsed >= 0.29
    assert ticks > 20, "other Python threads ran while the CDM call slept"


@pytest.mark.parametrize(
    ("operation", "call"),
    [
        ("update", lambda s: s.update(jwk_license({KID: KEY}))),
        ("load", lambda s: s.load()),
        ("remove", lambda s: s.remove()),
        ("close", lambda s: s.close()),
        (
            "decrypt",
            lambda s: s.decrypt(bytearray(32), scheme=EncryptionScheme.CENC, key_id=KID),
        ),
    ],
)
def test_fail_code_is_returned(hal: Hal, recorder: Recorder, operation: str, call) -> None:  # type: ignore[no-untyped-def]
    session = _session(hal, recorder)
    if operation == "decrypt":
        session.update(jwk_license({KID: KEY}))
    _inject(hal, operation, fail_code=int(OcdmStatus.BUSY_CANNOT_INITIALIZE), count=1)
    with pytest.raises(OcdmCallError) as caught:
        call(session)
    assert caught.value.status is OcdmStatus.BUSY_CANNOT_INITIALIZE


def test_fail_code_on_construct(hal: Hal, recorder: Recorder, baseline: dict[str, object]) -> None:
    system = hal.create_system(CLEARKEY)
    _inject(hal, "construct", fail_code=int(OcdmStatus.OUT_OF_MEMORY), count=1)
    with pytest.raises(OcdmCallError) as caught:
        system.construct_session(
            LicenseType.TEMPORARY, "keyids", keyids_init_data(KID), b"", recorder
        )
    assert caught.value.status is OcdmStatus.OUT_OF_MEMORY
    assert system.sessions() == []
    assert hal.test_control({"op": "stats"})["sessions"] == baseline["sessions"]
    _session(hal, recorder)  # count=1: the next construct works


def test_error_callback_during_an_operation(hal: Hal, recorder: Recorder) -> None:
    session = _session(hal, recorder)
    _inject(hal, "update", error_message="license server said no", count=1)
    with pytest.raises(OcdmCallError) as caught:
        session.update(jwk_license({KID: KEY}))
    assert caught.value.status is OcdmStatus.FAIL  # default code of an error injection
    # The error callback was delivered before the failing call returned.
    assert ("error", "license server said no") in recorder.events


def test_injection_is_scoped_to_a_key_system_and_count(hal: Hal, recorder: Recorder) -> None:
    session = _session(hal, recorder)
    _inject(hal, "update", key_system="com.widevine.alpha", fail_code=1)
    session.update(jwk_license({KID: KEY}))  # another key system's fault: not applied
    _inject(hal, "update", key_system=CLEARKEY, fail_code=1, count=2)
    for _ in range(2):
        with pytest.raises(OcdmCallError):
            session.update(jwk_license({KID: KEY}))
    session.update(jwk_license({KID: KEY}))
    hal.test_control({"op": "reset"})


def test_malformed_injections_are_refused(hal: Hal) -> None:
    for bad in (
        {"op": "inject"},
        {"op": "inject", "operation": "teleport"},
        {"op": "inject", "operation": "update", "delay_ms": "slow"},
        {"op": "inject", "operation": "update", "bogus": 1},
    ):
        with pytest.raises(OcdmCallError):
            hal.test_control(bad)


MS_PRO_NAME = "ms_playready_header_spec_v40_pro"


@pytest.mark.parametrize(
    "operation",
    [
        "get_challenge_data",
        "store_license_data",
        "cancel_challenge_data",
        "clean_decrypt_context",
        "select_key_id",
        "set_drm_header",
    ],
)
def test_fail_code_on_extension_operations(hal: Hal, vectors_dir: Path, operation: str) -> None:
    entries = json.loads((vectors_dir / "initdata" / "initdata_samples.json").read_text())
    header = next(base64.b64decode(e["base64"]) for e in entries if e["name"] == MS_PRO_NAME)
    session = hal.create_system("com.netflix.playready").construct_session(
        LicenseType.TEMPORARY, "", header, b"", Recorder()
    )
    calls = {
        "get_challenge_data": lambda: session.get_challenge_data(),
        "store_license_data": lambda: session.store_license_data(b"{}"),
        "cancel_challenge_data": session.cancel_challenge_data,
        "clean_decrypt_context": session.clean_decrypt_context,
        "select_key_id": lambda: session.select_key_id(KID),
        "set_drm_header": lambda: session.set_drm_header(header),
    }
    _inject(hal, operation, key_system="com.netflix.playready", fail_code=0x8004C604, count=1)
    with pytest.raises(OcdmCallError) as caught:
        calls[operation]()
    assert caught.value.status is OcdmStatus.SERVER_SERVICE_SPECIFIC


def test_fail_code_on_set_server_certificate(hal: Hal) -> None:
    system = hal.create_system("com.widevine.alpha")
    _inject(hal, "set_server_certificate", fail_code=int(OcdmStatus.INVALID_ACCESSOR), count=1)
    with pytest.raises(OcdmCallError) as caught:
        system.set_server_certificate(b"certificate")
    assert caught.value.status is OcdmStatus.INVALID_ACCESSOR
    system.set_server_certificate(b"certificate")
