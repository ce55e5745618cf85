"""Every shared vector decrypted sample by sample through the HAL and the reference CDM."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator

import pytest
from drmkit.media import parse
from drmkit.media.testing import check_against_oracle
from drmkit.testing.vectors import ENCRYPTED_VECTORS, Vector
from drmkit_hal import CdmSession, CdmSystem, EncryptionScheme, Hal, HalConfig, LicenseType

SCHEMES = {
    "cenc": EncryptionScheme.CENC,
    "cbc1": EncryptionScheme.CBC1,
    "cens": EncryptionScheme.CENS,
    "cbcs": EncryptionScheme.CBCS,
}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _Callbacks:
    def __init__(self) -> None:
        self.challenge = threading.Event()
        self.keys_updated = threading.Event()

    def on_challenge(self, url: str, challenge: bytes) -> None:
        self.challenge.set()

    def on_key_update(self, key_id: bytes) -> None:
        pass

    def on_error(self, message: str) -> None:
        pass

    def on_keys_updated(self) -> None:
        self.keys_updated.set()


@pytest.fixture(scope="module")
def clearkey() -> Iterator[CdmSystem]:
    with Hal.open(HalConfig()) as hal:
        yield hal.create_system("org.w3.clearkey")


def open_session(system: CdmSystem, keys: dict[bytes, bytes]) -> CdmSession:
    callbacks = _Callbacks()
    init = json.dumps({"kids": [_b64url(k) for k in keys]}).encode()
    session = system.construct_session(LicenseType.TEMPORARY, "keyids", init, b"", callbacks)
    assert callbacks.challenge.wait(5)
    jwks = [{"kty": "oct", "kid": _b64url(k), "k": _b64url(v)} for k, v in keys.items()]
    session.update(json.dumps({"keys": jwks}).encode())
    assert callbacks.keys_updated.wait(5)
    return session


def decrypt_through_hal(session: CdmSession, buf: bytearray) -> None:
    media = parse(buf)
    view = memoryview(buf)
    for track in media.tracks.values():
        for s in track.samples:
            if s.scheme is None:
                continue
            session.decrypt(
                view[s.offset : s.offset + s.size],
                scheme=SCHEMES[s.scheme],
                iv=s.iv,
                key_id=s.key_id,
                subsamples=s.subsamples or (),
                pattern=(s.crypt_byte_block, s.skip_byte_block),  # type: ignore[arg-type]
            )


@pytest.mark.parametrize("vector", ENCRYPTED_VECTORS, ids=lambda v: v.name)
def test_vector_through_the_hal(clearkey: CdmSystem, vector: Vector) -> None:
    session = open_session(clearkey, vector.key_map())
    try:
        buf = vector.read()
        decrypt_through_hal(session, buf)
        check_against_oracle(buf, parse(buf), vector.oracle())
    finally:
        session.destruct()
