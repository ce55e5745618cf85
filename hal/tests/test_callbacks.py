"""CDM callbacks: thread, ordering, unsolicited events, errors in callbacks, lifetimes."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from drmkit_hal import Hal, HalError, LicenseType, OcdmCallError, OcdmKeyStatus
from hal_testsupport import CLEARKEY, Recorder, clearkey_init_data, jwk_license

KID = bytes.fromhex("11111111111111111111111111111111")
KID2 = bytes.fromhex("22222222222222222222222222222222")
KEY = bytes.fromhex("101102030405060708090a0b0c0d0e0f")  # no 0x00: every Clear Key CDM takes it


def _session(hal: Hal, recorder: Recorder, *kids: bytes):  # type: ignore[no-untyped-def]
    init_data_type, init_data = clearkey_init_data(hal, *(kids or (KID,)))
    return hal.create_system(CLEARKEY).construct_session(
        LicenseType.TEMPORARY, init_data_type, init_data, b"", recorder
    )


def test_callbacks_arrive_on_a_cdm_thread(hal: Hal, recorder: Recorder) -> None:
    names: list[str] = []
    recorder.hook = lambda kind: names.append(threading.current_thread().name)
    session = _session(hal, recorder)
    recorder.wait_for("challenge")
    session.update(jwk_license({KID: KEY}))
    caller = threading.get_ident()
    assert recorder.threads and all(t != caller for t in recorder.threads)
    assert len(set(recorder.threads)) == 1  # one callback thread, serialised
    assert all(n != threading.current_thread().name for n in names)


def test_update_runs_its_key_callbacks_before_returning(hal: Hal, recorder: Recorder) -> None:
    # As many keys in one license as the CDM takes (OCDM-Clearkey: one).
    kids = (KID, KID2)[: hal.cdm_profile(CLEARKEY).max_keys_per_license or 2]
    session = _session(hal, recorder, *kids)
    recorder.wait_for("challenge")
    recorder.clear()
    session.update(jwk_license(dict.fromkeys(kids, KEY)))
    kinds = [e[0] for e in recorder.events]
    assert kinds == ["key_update"] * len(kids) + ["keys_updated"]


def test_challenge_during_construct_reaches_the_callbacks(hal: Hal, recorder: Recorder) -> None:
    slow = threading.Event()

    def block(kind: str) -> None:
        if kind == "challenge":
            time.sleep(0.05)
            slow.set()

    recorder.hook = block
    session = _session(hal, recorder)
    assert recorder.wait_for("challenge")
    assert slow.wait(2)
    assert session.session_id


@pytest.mark.refcdm
def test_renewal_arrives_unsolicited(hal: Hal, recorder: Recorder) -> None:
    session = _session(hal, recorder)
    session.update(jwk_license({KID: KEY}))
    recorder.clear()
    hal.test_control({"op": "renewal", "session_id": session.session_id})
    ((_, url, body),) = recorder.wait_for("challenge")
    assert url and body


@pytest.mark.refcdm
def test_key_status_change_arrives_unsolicited(hal: Hal, recorder: Recorder) -> None:
    session = _session(hal, recorder)
    session.update(jwk_license({KID: KEY}))
    recorder.clear()
    hal.test_control(
        {
            "op": "key_status",
            "session_id": session.session_id,
            "key_id": KID.hex(),
            "status": "expired",
        }
    )
    assert [e[0] for e in recorder.events] == ["key_update", "keys_updated"]
    assert recorder.events[0][1] == KID
    assert session.status(KID) is OcdmKeyStatus.EXPIRED


@pytest.mark.refcdm
def test_test_control_errors_are_typed(hal: Hal) -> None:
    with pytest.raises(OcdmCallError, match="no live session"):
        hal.test_control({"op": "renewal", "session_id": "no-such-session"})
    with pytest.raises(OcdmCallError) as caught:
        hal.test_control({"op": "nonsense"})
    assert caught.value.function == "drmkit_refcdm_test_control"
    with pytest.raises(OcdmCallError):
        hal.configure({"unknown_key": 1})


def test_exception_in_a_callback_is_logged_and_swallowed(
    hal: Hal, caplog: pytest.LogCaptureFixture
) -> None:
    class Exploding(Recorder):
        def on_key_update(self, key_id: bytes) -> None:
            super().on_key_update(key_id)
            raise RuntimeError("boom in callback")

    recorder = Exploding()
    session = _session(hal, recorder)
    with caplog.at_level(logging.ERROR, logger="drmkit_hal"):
        session.update(jwk_license({KID: KEY}))
    assert recorder.of("keys_updated"), "later callbacks still ran"
    assert "boom in callback" in caplog.text
    assert session.status(KID) is OcdmKeyStatus.USABLE


def test_ocdm_calls_from_inside_a_callback_are_refused(hal: Hal) -> None:
    outcome: list[BaseException] = []

    class Reentrant(Recorder):
        session = None

        def on_keys_updated(self) -> None:
            super().on_keys_updated()
            try:
                assert self.session is not None
                self.session.status(KID)
            except HalError as exc:
                outcome.append(exc)

    recorder = Reentrant()
    session = _session(hal, recorder)
    recorder.session = session
    session.update(jwk_license({KID: KEY}))
    assert outcome and "inside a CDM callback" in str(outcome[0])


@pytest.mark.refcdm
def test_no_callback_after_destruct_returns(hal: Hal) -> None:
    recorder = Recorder()
    session = _session(hal, recorder)
    session.update(jwk_license({KID: KEY}))
    session_id = session.session_id
    # Keep the CDM thread busy delivering while destruct runs on another thread.
    recorder.hook = lambda kind: time.sleep(0.02)

    def fire() -> None:
        for _ in range(5):
            try:
                hal.test_control({"op": "renewal", "session_id": session_id})
            except OcdmCallError:
                return

    fire_thread = threading.Thread(target=fire)
    fire_thread.start()
    time.sleep(0.01)
    session.destruct()
    count = len(recorder.events)
    fire_thread.join()
    time.sleep(0.1)
    assert len(recorder.events) == count
    with pytest.raises(OcdmCallError):
        hal.test_control({"op": "renewal", "session_id": session_id})
