"""The Netflix DPI facade over the core and the reference CDM: blocking, bounded challenge fetch."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from drmkit.core.factory import MediaKeysFactory
from drmkit.core.sync import SyncRunner
from drmkit.errors import FailError, InvalidInitDataError, InvalidStateError
from drmkit.events import KeyStatus
from drmkit.testing.cenc import encrypt_sample
from drmkit.testing.flows import new_keys
from drmkit.testing.refcdm import RefCdmControl
from drmkit.types import CipherMode, DecryptParams
from drmkit_playready_netflix.dpi import (
    ChallengeTimeoutError,
    DrmHeaderMissingError,
    NetflixDpi,
)
from drmkit_playready_netflix.header import build_header
from drmkit_playready_netflix.initdata import build_playready_object
from drmkit_playready_netflix.licenses import build_test_license, parse_challenge

NETFLIX = "com.netflix.playready"


@pytest.fixture
def dpi(drmkit_core_factory: MediaKeysFactory) -> Iterator[NetflixDpi]:
    runner = SyncRunner()
    factory = drmkit_core_factory
    facade = NetflixDpi.open(factory, runner, previous_wait=0.25, request_wait=1.0)
    try:
        yield facade
    finally:
        facade.close()
        runner.run(factory.destroy_all())
        runner.close()


def drm_header(keys: dict[bytes, bytes]) -> bytes:
    return build_playready_object(build_header(list(keys), keys=keys))


def licensed(dpi: NetflixDpi, keys: dict[bytes, bytes]):  # type: ignore[no-untyped-def]
    session = dpi.create_drm_session("movie-1", drm_header=drm_header(keys))
    challenge = session.get_challenge_data(is_ldl=False)
    session_id = parse_challenge(challenge).session_id
    session.store_license_data(build_test_license(NETFLIX, session_id, keys))
    return session


def test_dpi_flow_end_to_end_with_decrypt(dpi: NetflixDpi) -> None:
    keys = new_keys(2)
    with dpi.create_drm_session(b"movie-1", drm_header=drm_header(keys)) as session:
        challenge = session.get_challenge_data(is_ldl=True)
        assert b'LDL="1"' in challenge
        assert parse_challenge(challenge).kids == tuple(keys)
        session.store_license_data(
            build_test_license(NETFLIX, parse_challenge(challenge).session_id, keys)
        )
        for kid, key in keys.items():
            assert session.has_license(kid)
            session.init_decrypt_context_by_kid(kid)
            plain, iv = os.urandom(200), os.urandom(16)
            sample = bytearray(encrypt_sample(plain, key, iv, CipherMode.CENC))
            session.decrypt(sample, DecryptParams(CipherMode.CENC, b"", iv))
            assert bytes(sample) == plain
        assert session.key_statuses == dict.fromkeys(keys, KeyStatus.USABLE)
        assert not session.has_license(os.urandom(16))
    assert session.closed
    with pytest.raises(InvalidStateError, match="closed"):
        session.get_challenge_data()
    with pytest.raises(InvalidStateError):
        session.init_decrypt_context_by_kid(next(iter(keys)))
    session.close()  # idempotent
    assert dpi.get_ldl_session_limit() == 100
    assert dpi.get_drm_time() > 0


def test_dpi_challenge_twice_in_a_row_gives_a_fresh_one(dpi: NetflixDpi) -> None:
    keys = new_keys(1)
    with dpi.create_drm_session("c", drm_header=drm_header(keys)) as session:
        first = session.get_challenge_data()
        second = session.get_challenge_data(is_ldl=True)
        assert b'LDL="0"' in first and b'LDL="1"' in second


def test_dpi_calls_without_header_or_before_challenge(dpi: NetflixDpi) -> None:
    keys = new_keys(1)
    with dpi.create_drm_session("no-header") as session:
        with pytest.raises(DrmHeaderMissingError):
            session.get_challenge_data()
        with pytest.raises(DrmHeaderMissingError):
            session.store_license_data(build_test_license(NETFLIX, None, keys))
        session.set_drm_header(drm_header(keys))
        with pytest.raises(InvalidStateError, match="before any get_challenge_data"):
            session.store_license_data(build_test_license(NETFLIX, None, keys))
        assert session.get_challenge_data()
    with pytest.raises(InvalidInitDataError):
        dpi.create_drm_session("bad", drm_header=b"not a header")


def test_dpi_delayed_challenge_beyond_the_bound_is_a_timeout_not_a_hang(
    dpi: NetflixDpi, refcdm: RefCdmControl
) -> None:
    keys = new_keys(1)
    with dpi.create_drm_session("slow", drm_header=drm_header(keys)) as session:
        refcdm.inject("get_challenge_data", key_system=NETFLIX, delay_ms=1600, count=1)
        started = time.monotonic()
        with pytest.raises(ChallengeTimeoutError, match="no license request"):
            session.get_challenge_data()
        assert time.monotonic() - started < 1.5  # bounded by request_wait (1 s)
        # The late challenge is still in flight: the next fetch waits up to 250 ms for it, then
        # gives up with a clear error while the CDM is still busy with it.
        with pytest.raises(InvalidStateError, match="still inside the CDM"):
            session.get_challenge_data()
        time.sleep(0.8)  # the delayed CDM call has returned by now
        assert parse_challenge(session.get_challenge_data()).kids == tuple(keys)


def test_dpi_failed_challenge_is_reported(dpi: NetflixDpi, refcdm: RefCdmControl) -> None:
    keys = new_keys(1)
    with dpi.create_drm_session("fail", drm_header=drm_header(keys)) as session:
        refcdm.inject("get_challenge_data", key_system=NETFLIX, fail_code=1)
        with pytest.raises(FailError):
            session.get_challenge_data()
        assert session.get_challenge_data()


def test_dpi_error_during_store_and_failing_close(dpi: NetflixDpi, refcdm: RefCdmControl) -> None:
    keys = new_keys(1)
    session = dpi.create_drm_session("err", drm_header=drm_header(keys))
    challenge = session.get_challenge_data()
    license_ = build_test_license(NETFLIX, parse_challenge(challenge).session_id, keys)
    refcdm.inject("store_license_data", key_system=NETFLIX, error_message="store failed")
    with pytest.raises(FailError, match="store failed"):
        session.store_license_data(license_)
    session.store_license_data(license_)
    refcdm.inject("clean_decrypt_context", key_system=NETFLIX, fail_code=1)
    stats_before = refcdm.stats()["sessions"]
    with pytest.raises(FailError, match="clean_decrypt_context"):
        session.close()
    assert session.closed
    assert refcdm.stats()["sessions"] == stats_before - 1  # released even though close failed


def test_dpi_blocking_fetch_under_concurrent_sessions(dpi: NetflixDpi) -> None:
    results: dict[int, bool] = {}
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            keys = new_keys(1)
            with licensed(dpi, keys) as session:
                for _ in range(3):
                    challenge = session.get_challenge_data()
                    assert parse_challenge(challenge).kids == tuple(keys)
                kid, key = next(iter(keys.items()))
                session.init_decrypt_context_by_kid(kid)
                plain, iv = os.urandom(64), os.urandom(16)
                sample = bytearray(encrypt_sample(plain, key, iv, CipherMode.CENC))
                session.decrypt(sample, DecryptParams(CipherMode.CENC, b"", iv))
                results[index] = bytes(sample) == plain
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert results == dict.fromkeys(range(6), True)


def test_dpi_needs_a_netflix_media_keys(drmkit_core_factory: MediaKeysFactory) -> None:
    with SyncRunner() as runner:
        factory = drmkit_core_factory
        media_keys = runner.run(factory.create_media_keys("com.microsoft.playready"))
        try:
            with pytest.raises(ValueError, match=r"com\.netflix\.playready"):
                NetflixDpi(media_keys, runner)
        finally:
            runner.run(factory.destroy_all())


def test_dpi_session_closed_when_collected(dpi: NetflixDpi, refcdm: RefCdmControl) -> None:
    import gc

    baseline = refcdm.stats()["sessions"]
    session = licensed(dpi, new_keys(1))
    assert refcdm.stats()["sessions"] == baseline + 1
    del session
    gc.collect()
    assert refcdm.stats()["sessions"] == baseline


def test_dpi_over_the_ipc_client(tmp_path: Path) -> None:
    """The same facade over ``drmkit.client`` against a real ``drmkit serve`` process."""
    from drmkit.client import MediaKeysClient
    from drmkit.client.testing import ServerProcess

    keys = new_keys(1)
    kid, key = next(iter(keys.items()))
    plugins = ["playready", "netflix"]
    with ServerProcess(tmp_path, plugins=plugins) as server, SyncRunner() as runner:
        client = runner.run(
            MediaKeysClient.connect(
                server.socket_path, call_timeout=10, control_socket_path=server.control_path
            )
        )
        try:
            dpi = NetflixDpi.open(client, runner)
            with licensed(dpi, keys) as session:
                assert session.has_license(kid)
                session.init_decrypt_context_by_kid(kid)
                plain, iv = os.urandom(128), os.urandom(16)
                sample = bytearray(encrypt_sample(plain, key, iv, CipherMode.CENC))
                session.decrypt(sample, DecryptParams(CipherMode.CENC, b"", iv))
                assert bytes(sample) == plain
            dpi.close()
        finally:
            runner.run(client.close())
