"""Property fuzzing of the CDM's parsers and decrypt through the real binding.

Bad input of any kind must end in a clean result or a typed error (``ValueError``/``TypeError``
before C, ``OcdmCallError`` from C), never a crash or hang. In the normal test run each harness
runs a short round; ``scripts/fuzz`` sets ``DRMKIT_FUZZ_SECONDS`` to keep them going for a budget.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from drmkit_hal import (
    DecryptNotSupportedError,
    Hal,
    HalError,
    LicenseType,
    OcdmCallError,
    Pattern,
    Subsample,
)
from hal_testsupport import CLEARKEY, NETFLIX, PLAYREADY, WIDEVINE, Recorder, b64url, common_pssh
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HARNESSES = 6
BUDGET = float(os.environ.get("DRMKIT_FUZZ_SECONDS", "0")) / HARNESSES
ROUND = settings(
    max_examples=40 if not BUDGET else 100,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
KID = bytes(range(16))


def run_budget(check: Callable[[], None]) -> None:
    """Run a hypothesis round, then fresh rounds until the fuzzing budget is spent."""
    deadline = time.monotonic() + BUDGET
    check()
    while time.monotonic() < deadline:
        check()


@pytest.fixture(scope="module")
def seeds(vectors_dir: Path) -> list[bytes]:
    entries = json.loads((vectors_dir / "initdata" / "initdata_samples.json").read_text())
    return [base64.b64decode(e["base64"]) for e in entries] + [common_pssh(KID)]


def mutated(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    """Real init data with random byte edits, truncations and splices."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.sampled_from(seeds)))
        for _ in range(draw(st.integers(0, 8))):
            if not data:
                break
            at = draw(st.integers(0, len(data) - 1))
            action = draw(st.integers(0, 3))
            if action == 0:
                data[at] = draw(st.integers(0, 255))
            elif action == 1:
                del data[at:]
            elif action == 2:
                data[at:at] = draw(st.binary(max_size=8))
            else:
                data[at : at + 4] = draw(
                    st.sampled_from([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00"])
                )
        return bytes(data)

    return build()


def test_fuzz_init_data(hal: Hal, seeds: list[bytes], baseline: dict[str, object]) -> None:
    systems = {ks: hal.create_system(ks) for ks in (CLEARKEY, WIDEVINE, PLAYREADY, NETFLIX)}

    @ROUND
    @given(
        st.sampled_from(list(systems)),
        st.sampled_from(["cenc", "keyids", "webm", "persistent-session-id", "", "x" * 40]),
        mutated(seeds) | st.binary(max_size=300) | st.text(max_size=80).map(str.encode),
        st.sampled_from(list(LicenseType)),
        st.binary(max_size=40),
    )
    def check(ks: str, init_type: str, data: bytes, license_type: LicenseType, cdm: bytes) -> None:
        try:
            session = systems[ks].construct_session(license_type, init_type, data, cdm, Recorder())
        except OcdmCallError:
            return
        assert session.session_id
        session.destruct()

    run_budget(check)
    assert hal.test_control({"op": "stats"})["sessions"] == baseline["sessions"]


def _jwk_like() -> st.SearchStrategy[bytes]:
    key = st.binary(min_size=0, max_size=20).map(b64url)
    entry = st.fixed_dictionaries(
        {"kty": st.sampled_from(["oct", "RSA", ""]), "kid": key, "k": key},
        optional={"alg": st.text(max_size=5), "extra": st.integers()},
    )
    document = st.fixed_dictionaries(
        {"keys": st.lists(entry, max_size=4)}, optional={"type": st.text(max_size=10)}
    )
    return document.map(lambda d: json.dumps(d).encode())


def test_fuzz_licenses(hal: Hal) -> None:
    session = hal.create_system(CLEARKEY).construct_session(
        LicenseType.TEMPORARY, "webm", KID, b"", Recorder()
    )

    @ROUND
    @given(_jwk_like() | st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
    def check(message: bytes) -> None:
        with contextlib.suppress(OcdmCallError):
            session.update(message)

    run_budget(check)


@pytest.mark.refcdm
def test_fuzz_drm_headers(hal: Hal, seeds: list[bytes]) -> None:
    session = hal.create_system(NETFLIX).construct_session(
        LicenseType.TEMPORARY, "", b"", b"", Recorder()
    )

    @ROUND
    @given(mutated(seeds) | st.binary(max_size=400), st.booleans())
    def check(header: bytes, ldl: bool) -> None:
        try:
            session.set_drm_header(header)
            assert session.get_challenge_data(ldl)
        except OcdmCallError:
            pass

    run_budget(check)


@pytest.mark.refcdm
def test_fuzz_control_json(hal: Hal) -> None:
    values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=8,
    )
    commands = st.fixed_dictionaries(
        {"op": st.sampled_from(["inject", "renewal", "key_status", "stats", "nope"])},
        optional={
            "operation": st.sampled_from(["update", "decrypt", "??"]),
            "session_id": st.text(max_size=20),
            "key_id": st.text(max_size=40),
            "status": st.text(max_size=12),
            "delay_ms": st.integers(-5, 5),
            "count": st.integers(-2, 2),
            "fail_code": st.integers(-1, 2**33),
            "junk": values,
        },
    )

    @ROUND
    @given(commands)
    def check(command: dict[str, object]) -> None:
        if command.get("op") == "inject":
            command = {**command, "delay_ms": 0}  # keep the fuzzer fast
        with contextlib.suppress(OcdmCallError):
            hal.test_control(command)
        hal.test_control({"op": "reset"})

    run_budget(check)


def test_fuzz_play_levels(hal: Hal) -> None:
    @ROUND
    @given(
        st.text(max_size=120)
        | st.dictionaries(st.text(max_size=20), st.integers(-(2**40), 2**40)).map(json.dumps)
    )
    def check(text: str) -> None:
        with contextlib.suppress(OcdmCallError, UnicodeEncodeError):
            hal.play_levels(text)

    run_budget(check)


def test_fuzz_decrypt_arguments(hal: Hal) -> None:
    session = hal.create_system(CLEARKEY).construct_session(
        LicenseType.TEMPORARY, "webm", KID, b"", Recorder()
    )
    session.update(
        json.dumps({"keys": [{"kty": "oct", "kid": b64url(KID), "k": b64url(KID)}]}).encode()
    )

    @ROUND
    @given(
        st.binary(max_size=300),
        st.integers(-1, 6),
        st.binary(max_size=25),
        st.sampled_from([KID, b"", bytes(16), b"x"]),
        st.lists(st.tuples(st.integers(-2, 70000), st.integers(-2, 400)), max_size=5),
        st.tuples(st.integers(-1, 12), st.integers(-1, 12)),
        st.booleans(),
    )
    def check(
        data: bytes,
        scheme: int,
        iv: bytes,
        kid: bytes,
        subsamples: list[tuple[int, int]],
        pattern: tuple[int, int],
        last15: bool,
    ) -> None:
        try:
            session.decrypt(
                bytearray(data),
                scheme=scheme,  # type: ignore[arg-type]
                iv=iv,
                key_id=kid,
                subsamples=[Subsample(*s) for s in subsamples],
                pattern=Pattern(*pattern),
                init_with_last15=last15,
            )
        except (ValueError, OcdmCallError, DecryptNotSupportedError):
            pass
        except HalError as exc:  # pragma: no cover - any other HAL error is a finding
            raise AssertionError(exc) from exc

    run_budget(check)
