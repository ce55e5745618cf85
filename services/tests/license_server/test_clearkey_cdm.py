"""Clear Key licenses and release acknowledgements from the server, consumed by the real CDM."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from drmkit.license_server import KeyStore
from drmkit.license_server.keyids import b64url_encode
from drmkit_hal import Hal, HalConfig, LicenseType, OcdmKeyStatus

from .conftest import KID_A, KID_B

KID_C = bytes.fromhex("fbff" + "11" * 14)
KEY_C = bytes.fromhex("42" * 16)


class Recorder:
    def __init__(self) -> None:
        self.challenges: list[bytes] = []
        self.errors: list[str] = []
        self.challenged = threading.Event()

    def on_challenge(self, url: str, challenge: bytes) -> None:
        self.challenges.append(challenge)
        self.challenged.set()

    def on_key_update(self, key_id: bytes) -> None:
        pass

    def on_error(self, message: str) -> None:
        self.errors.append(message)

    def on_keys_updated(self) -> None:
        pass


@pytest.fixture
def hal(tmp_path: Path) -> Iterator[Hal]:
    with Hal.open(HalConfig(store_dir=tmp_path / "cdm")) as opened:
        yield opened


def keyids(*kids: bytes) -> bytes:
    return json.dumps({"kids": [b64url_encode(k) for k in kids]}).encode()


@pytest.mark.parametrize("challenge_format", ["w3c", "ocdm"])
def test_license_for_the_cdms_own_request_makes_its_keys_usable(
    hal: Hal, client: httpx.Client, store: KeyStore, challenge_format: str
) -> None:
    # "ocdm": the real OCDM Clear Key request format (standard base64 kids, "kids" : spacing).
    # KID_C's standard base64 has '+' and '/', so the two alphabets really differ.
    store.add(KID_C, KEY_C)
    hal.configure({"clearkey_challenge": challenge_format})
    recorder = Recorder()
    system = hal.create_system("org.w3.clearkey")
    session = system.construct_session(
        LicenseType.TEMPORARY, "keyids", keyids(KID_A, KID_B, KID_C), b"", recorder
    )
    try:
        assert recorder.challenged.wait(5)
        expected = "+/8" if challenge_format == "ocdm" else "-_8"
        assert expected in recorder.challenges[0].decode()
        response = client.post("/clearkey/license", content=recorder.challenges[0])
        assert response.status_code == 200, response.text
        session.update(response.content)
        assert not recorder.errors
        assert session.status(KID_A) == OcdmKeyStatus.USABLE
        assert session.status(KID_B) == OcdmKeyStatus.USABLE
        assert session.status(KID_C) == OcdmKeyStatus.USABLE
    finally:
        session.destruct()
        hal.configure({"clearkey_challenge": "w3c"})


def test_persistent_license_release_is_acknowledged_and_accepted(
    hal: Hal, client: httpx.Client
) -> None:
    recorder = Recorder()
    system = hal.create_system("org.w3.clearkey")
    session = system.construct_session(
        LicenseType.PERSISTENT_LICENSE, "keyids", keyids(KID_A), b"", recorder
    )
    try:
        assert recorder.challenged.wait(5)
        request = json.loads(recorder.challenges[0])
        assert request["type"] == "persistent-license"
        license_ = client.post("/clearkey/license", content=recorder.challenges[0])
        assert license_.json()["type"] == "persistent-license"
        session.update(license_.content)
        assert session.status(KID_A) == OcdmKeyStatus.USABLE

        session.remove()  # keys released; the license-release message arrives before it returns
        release = recorder.challenges[-1]
        assert json.loads(release)["kids"] == [b64url_encode(KID_A)]
        ack = client.post("/clearkey/release", content=release)
        assert ack.status_code == 200
        assert ack.json() == {"kids": [b64url_encode(KID_A)]}
        session.update(ack.content)  # the CDM accepts the acknowledgement
        assert not recorder.errors
    finally:
        session.destruct()
