"""Concurrent use: decrypts, status reads, constructs and destructs from several threads at once.

Every call ends in a result or a typed error (``HalError`` once a session is destructed); the CDM
ends with no live session. Run under ``scripts/hal-sanitizers`` this also checks the C side.
"""

from __future__ import annotations

import os
import random
import threading
import time

from drmkit_hal import EncryptionScheme, Hal, HalError, LicenseType, OcdmKeyStatus, Subsample
from hal_testsupport import CLEARKEY, Recorder, clearkey_init_data, encrypt_sample, jwk_license

KID = bytes.fromhex("88888888888888888888888888888888")
KEY = bytes(b or 1 for b in os.urandom(16))  # no 0x00: every Clear Key CDM can use it
CLEAR = os.urandom(1024)
IV = os.urandom(8)
SUBSAMPLES = [Subsample(24, 488), Subsample(12, 500)]
ENCRYPTED = encrypt_sample(EncryptionScheme.CENC, KEY, IV, CLEAR, SUBSAMPLES)


def test_parallel_decrypts_and_destructs(hal: Hal) -> None:
    baseline = hal.test_control({"op": "stats"}) if hal.is_reference else None
    init_type, init_data = clearkey_init_data(hal, KID)
    system = hal.create_system(CLEARKEY)
    stop = time.monotonic() + 1.0
    failures: list[BaseException] = []
    decrypted = 0
    count_lock = threading.Lock()

    def new_session():  # type: ignore[no-untyped-def]
        session = system.construct_session(
            LicenseType.TEMPORARY, init_type, init_data, b"", Recorder()
        )
        session.update(jwk_license({KID: KEY}))
        return session

    sessions = [new_session() for _ in range(4)]
    sessions_lock = threading.Lock()

    def decrypter() -> None:
        nonlocal decrypted
        rng = random.Random()
        while time.monotonic() < stop:
            with sessions_lock:
                session = rng.choice(sessions)
            buffer = bytearray(ENCRYPTED)
            try:
                session.decrypt(
                    buffer, scheme=EncryptionScheme.CENC, iv=IV, key_id=KID, subsamples=SUBSAMPLES
                )
            except HalError as exc:
                if "destructed" not in str(exc):
                    failures.append(exc)
                continue
            except BaseException as exc:  # pragma: no cover - reported below
                failures.append(exc)
                continue
            if bytes(buffer) != CLEAR:
                failures.append(AssertionError("wrong plaintext"))
            with count_lock:
                decrypted += 1

    def reader() -> None:
        while time.monotonic() < stop:
            with sessions_lock:
                session = random.choice(sessions)
            try:
                status = session.status(KID)
            except HalError as exc:
                if "destructed" not in str(exc):
                    failures.append(exc)
                continue
            if status is not OcdmKeyStatus.USABLE:
                failures.append(AssertionError(f"status {status!r}"))

    def churner() -> None:
        while time.monotonic() < stop:
            replacement = new_session()
            with sessions_lock:
                index = random.randrange(len(sessions))
                victim, sessions[index] = sessions[index], replacement
            victim.destruct()  # may race with decrypts of it on other threads
            time.sleep(0.005)

    threads = [threading.Thread(target=t) for t in (decrypter, decrypter, reader, churner)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert decrypted > 0
    system.destruct()
    if baseline is not None:
        assert hal.test_control({"op": "stats"}) == baseline
