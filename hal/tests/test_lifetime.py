"""Lifetimes: destruct vs. calls in flight, Hal.close, interpreter exit, leaks."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from drmkit_hal import EncryptionScheme, Hal, HalConfig, HalError, LicenseType
from hal_testsupport import CLEARKEY, Recorder, clearkey_init_data, jwk_license, keyids_init_data

KID = bytes.fromhex("66666666666666666666666666666666")
KEY = bytes(range(100, 116))


def _licensed(hal: Hal, recorder: Recorder | None = None):  # type: ignore[no-untyped-def]
    init_type, init_data = clearkey_init_data(hal, KID)
    session = hal.create_system(CLEARKEY).construct_session(
        LicenseType.TEMPORARY, init_type, init_data, b"", recorder or Recorder()
    )
    session.update(jwk_license({KID: KEY}))
    return session


@pytest.mark.refcdm
def test_destruct_waits_for_a_decrypt_in_flight(hal: Hal) -> None:
    session = _licensed(hal)
    hal.test_control({"op": "inject", "operation": "decrypt", "delay_ms": 300, "count": 1})
    outcome: list[object] = []

    def decrypt() -> None:
        try:
            session.decrypt(bytearray(64), scheme=EncryptionScheme.CENC, key_id=KID)
            outcome.append("ok")
        except BaseException as exc:  # pragma: no cover - reported below
            outcome.append(exc)

    worker = threading.Thread(target=decrypt)
    worker.start()
    deadline = time.monotonic() + 5
    while session._guard.calls_in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.001)  # until the decrypt is inside the (delayed) C call
    time.sleep(0.02)
    started = time.monotonic()
    session.destruct()  # must not free the session under the running decrypt
    waited = time.monotonic() - started
    worker.join()
    assert outcome == ["ok"]
    assert waited >= 0.1
    with pytest.raises(HalError, match="destructed"):
        session.decrypt(bytearray(64), scheme=EncryptionScheme.CENC, key_id=KID)


def test_concurrent_destructs_are_safe(hal: Hal, baseline: dict[str, object]) -> None:
    session = _licensed(hal)
    threads = [threading.Thread(target=session.destruct) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert session.destructed
    assert hal.test_control({"op": "stats"})["sessions"] == baseline["sessions"]


@pytest.mark.refcdm
def test_close_destructs_everything(library_path: Path, store_dir: Path) -> None:
    with Hal.open(HalConfig(library_path=library_path)) as probe:
        before = probe.test_control({"op": "stats"})
        hal = Hal.open(HalConfig(library_path=library_path, store_dir=store_dir))
        recorder = Recorder()
        sessions = [_licensed(hal, recorder) for _ in range(4)]
        system = hal.create_system(CLEARKEY)
        during = probe.test_control({"op": "stats"})
        assert during["sessions"] == before["sessions"] + 4  # type: ignore[operator]
        hal.close()
        assert all(s.destructed for s in sessions) and system.destructed
        assert probe.test_control({"op": "stats"}) == before


def test_open_hal_is_closed_at_interpreter_exit(
    hal: Hal, library_path: Path, search_path: tuple[Path, ...]
) -> None:
    # A session left open, with callbacks queued, must not crash the exiting interpreter (the
    # HAL is closed, then the library disposed, at exit).
    init_type, init_data = clearkey_init_data(hal, bytes(16))
    script = f"""
import threading
from drmkit_hal import Hal, HalConfig, LicenseType
import json, base64
class Slow:
    def on_challenge(self, url, challenge):
        import time; time.sleep(0.05)
    def on_key_update(self, key_id): pass
    def on_error(self, message): pass
    def on_keys_updated(self): pass
original_close = Hal.close
def close(self):
    original_close(self)
    print("closed at exit", flush=True)
Hal.close = close
hal = Hal.open(HalConfig(library_path={str(library_path)!r},
                         library_search_path={tuple(str(p) for p in search_path)!r}))
system = hal.create_system("org.w3.clearkey")
for _ in range(20):
    system.construct_session(LicenseType.TEMPORARY, {init_type!r}, {init_data!r}, b"", Slow())
print("exiting")
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "exiting" in result.stdout
    assert "closed at exit" in result.stdout  # the atexit hook closed the open HAL


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_thousands_of_sessions_do_not_leak(hal: Hal) -> None:
    system = hal.create_system(CLEARKEY)
    baseline = hal.test_control({"op": "stats"}) if hal.is_reference else None
    init_type, init_data = clearkey_init_data(hal, KID)

    def cycle(count: int) -> None:
        for _ in range(count):
            recorder = Recorder()
            session = system.construct_session(
                LicenseType.TEMPORARY, init_type, init_data, b"", recorder
            )
            session.update(jwk_license({KID: KEY}))
            session.decrypt(bytearray(128), scheme=EncryptionScheme.CENC, key_id=KID)
            session.close()
            session.destruct()

    cycle(300)  # warm-up: allocator pools, caches
    rss_before = _rss_kib()
    cycle(3000)
    rss_after = _rss_kib()
    if baseline is not None:
        assert hal.test_control({"op": "stats"}) == baseline
    assert system.sessions() == []
    if "asan" not in os.environ.get("LD_PRELOAD", ""):  # ASan's quarantine holds freed memory
        # A leak of even 1 KiB per session would show as ~3 MB.
        assert rss_after - rss_before < 1500, (rss_before, rss_after)
    if os.environ.get("DRMKIT_HAL_VERBOSE"):
        print("rss", rss_before, rss_after)


@pytest.mark.refcdm
def test_destruct_racing_with_construct(hal: Hal, baseline: dict[str, object]) -> None:
    system = hal.create_system(CLEARKEY)
    hal.test_control({"op": "inject", "operation": "construct", "delay_ms": 300, "count": 1})
    constructed: list[object] = []

    def construct() -> None:
        try:
            constructed.append(
                system.construct_session(
                    LicenseType.TEMPORARY, "keyids", keyids_init_data(KID), b"", Recorder()
                )
            )
        except HalError as exc:  # the system may already be destructing
            constructed.append(exc)

    worker = threading.Thread(target=construct)
    worker.start()
    time.sleep(0.05)
    system.destruct()  # waits for the construct, then frees what it produced
    worker.join()
    (outcome,) = constructed
    assert isinstance(outcome, HalError) or outcome.destructed  # type: ignore[attr-defined]
    assert hal.test_control({"op": "stats"}) == baseline
