"""org.w3.clearkey flows through the real binding.

Tests marked ``refcdm`` pin the reference CDM's complete Clear Key (multi-key licenses, persistent
sessions, errors for bad input); the others hold on any Clear Key CDM, OCDM-Clearkey included.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from drmkit_hal import (
    EncryptionScheme,
    Hal,
    HalError,
    LicenseType,
    OcdmCallError,
    OcdmKeyStatus,
    OcdmStatus,
)
from hal_testsupport import (
    CLEARKEY,
    Recorder,
    b64url,
    clearkey_init_data,
    common_pssh,
    encrypt_sample,
    jwk_license,
    keyids_init_data,
    unb64url,
)

KID1 = bytes.fromhex("0123456789abcdef0123456789abcdef")
KID2 = bytes.fromhex("fedcba9876543210fedcba9876543210")
KEY1 = bytes.fromhex("01112233445566778899aabbccddeeff")
KEY2 = bytes(16)  # all zero bytes: the real OCDM ClearKey's strlen bug would break this key


def _kid(text: str) -> bytes:
    # W3C Clear Key sends base64url; OCDM-Clearkey sends standard base64 ('+', '/').
    return unb64url(text.replace("+", "-").replace("/", "_"))


def _challenge(recorder: Recorder) -> dict[str, object]:
    ((_, url, body),) = recorder.wait_for("challenge")
    assert url == "http://no-valid-license-server"
    decoded = json.loads(body)  # type: ignore[arg-type]
    assert isinstance(decoded, dict)
    return decoded


@pytest.mark.parametrize(
    ("init_type", "init_data"),
    [
        # OCDM-Clearkey misparses keyids with '-'/'_' and webm (the plugin sends Common PSSH).
        pytest.param("keyids", keyids_init_data(KID1, KID2), marks=pytest.mark.refcdm),
        ("cenc", common_pssh(KID1, KID2)),
        pytest.param("webm", KID1, marks=pytest.mark.refcdm),
    ],
)
def test_challenge_lists_init_data_key_ids(
    hal: Hal, recorder: Recorder, init_type: str, init_data: bytes
) -> None:
    system = hal.create_system(CLEARKEY)
    session = system.construct_session(LicenseType.TEMPORARY, init_type, init_data, b"", recorder)
    assert session.session_id.isdigit() and int(session.session_id) >= 10
    challenge = _challenge(recorder)
    expected = [KID1] if init_type == "webm" else [KID1, KID2]
    assert [_kid(k) for k in challenge["kids"]] == expected  # type: ignore[union-attr]
    assert challenge["type"] == "temporary"
    # Init data key ids are known (pending) right after construct.
    assert session.has_key_id(KID1)
    assert session.status(KID1) is OcdmKeyStatus.STATUS_PENDING
    assert not session.has_key_id(bytes(range(16)))


@pytest.mark.refcdm
def test_ocdm_challenge_format_is_configurable(hal: Hal, recorder: Recorder) -> None:
    kid = bytes.fromhex("fbff" + "00" * 14)  # encodes with '+' / '/' in standard base64
    hal.configure({"clearkey_challenge": "ocdm"})
    try:
        session = hal.create_system(CLEARKEY).construct_session(
            LicenseType.PERSISTENT_LICENSE, "keyids", keyids_init_data(kid), b"", recorder
        )
        ((_, _, body),) = recorder.wait_for("challenge")
        text = body.decode()  # type: ignore[union-attr]
        assert text.startswith('{"kids" : ["')
        assert text.endswith('"],"type":"temporary"}')
        assert base64.b64encode(kid).rstrip(b"=").decode() in text
        session.destruct()
    finally:
        hal.configure({"clearkey_challenge": "w3c"})


@pytest.mark.refcdm
def test_multi_key_license_makes_all_keys_usable(hal: Hal, recorder: Recorder) -> None:
    session = hal.create_system(CLEARKEY).construct_session(
        LicenseType.TEMPORARY, "keyids", keyids_init_data(KID1, KID2), b"", recorder
    )
    recorder.wait_for("challenge")
    session.update(jwk_license({KID1: KEY1, KID2: KEY2}))
    # update's callbacks ran before update returned: no waiting needed.
    assert sorted(e[1] for e in recorder.of("key_update")) == sorted([KID1, KID2])
    assert recorder.events[-1] == ("keys_updated",)
    assert session.status(KID1) is OcdmKeyStatus.USABLE
    assert session.status(KID2) is OcdmKeyStatus.USABLE
    # The zero-byte key decrypts correctly.
    clear = os.urandom(100)
    data = bytearray(encrypt_sample(EncryptionScheme.CENC, KEY2, b"\x01" * 8, clear))
    session.decrypt(data, scheme=EncryptionScheme.CENC, iv=b"\x01" * 8, key_id=KID2)
    assert bytes(data) == clear


@pytest.mark.refcdm
def test_bad_license_fails_update_with_an_error_callback(hal: Hal, recorder: Recorder) -> None:
    session = hal.create_system(CLEARKEY).construct_session(
        LicenseType.TEMPORARY, "keyids", keyids_init_data(KID1), b"", recorder
    )
    for bad in (b"not json", b'{"keys":[]}', b'{"keys":[{"kty":"oct","kid":"AA","k":"short"}]}'):
        recorder.clear()
        with pytest.raises(OcdmCallError) as caught:
            session.update(bad)
        assert caught.value.function == "opencdm_session_update"
        assert caught.value.status is OcdmStatus.INVALID_ARG
        assert recorder.of("error"), bad
    assert session.status(KID1) is OcdmKeyStatus.STATUS_PENDING


@pytest.mark.refcdm
def test_bad_init_data_fails_construct(hal: Hal, recorder: Recorder) -> None:
    system = hal.create_system(CLEARKEY)
    for init_type, data in (
        ("keyids", b"{"),
        ("cenc", b"\x00\x00"),
        ("webm", b""),
        ("unknown", b"x"),
    ):
        with pytest.raises(OcdmCallError):
            system.construct_session(LicenseType.TEMPORARY, init_type, data, b"", recorder)
    assert system.sessions() == []


def test_session_ids_are_distinct_counters(hal: Hal) -> None:
    system = hal.create_system(CLEARKEY)
    init_type, init_data = clearkey_init_data(hal, KID1)
    ids = [
        system.construct_session(
            LicenseType.TEMPORARY, init_type, init_data, b"", Recorder()
        ).session_id
        for _ in range(5)
    ]
    assert len(set(ids)) == 5
    assert [int(i) for i in ids] == sorted(int(i) for i in ids)


@pytest.mark.refcdm
def test_persistent_license_load_and_remove(hal: Hal, open_hal: object, store_dir: Path) -> None:
    rec = Recorder()
    system = hal.create_system(CLEARKEY)
    session = system.construct_session(
        LicenseType.PERSISTENT_LICENSE, "keyids", keyids_init_data(KID1), b"", rec
    )
    assert _challenge(rec)["type"] == "persistent-license"
    session.update(jwk_license({KID1: KEY1}, "persistent-license"))
    session_id = session.session_id
    session.close()
    session.destruct()
    assert any(store_dir.rglob("*")), "the persistent record was written to store_dir"

    loaded_rec = Recorder()
    loaded = system.construct_session(
        LicenseType.PERSISTENT_LICENSE,
        "persistent-session-id",
        session_id.encode(),
        b"",
        loaded_rec,
    )
    assert loaded.session_id == session_id
    loaded.load()
    assert loaded.status(KID1) is OcdmKeyStatus.USABLE
    assert [e[1] for e in loaded_rec.of("key_update")] == [KID1]
    clear = os.urandom(64)
    data = bytearray(encrypt_sample(EncryptionScheme.CENC, KEY1, b"\x02" * 16, clear))
    loaded.decrypt(data, scheme=EncryptionScheme.CENC, iv=b"\x02" * 16, key_id=KID1)
    assert bytes(data) == clear

    loaded_rec.clear()
    loaded.remove()
    assert loaded.status(KID1) is OcdmKeyStatus.RELEASED
    ((_, _, release),) = loaded_rec.wait_for("challenge")
    assert [unb64url(k) for k in json.loads(release)["kids"]] == [KID1]  # type: ignore[arg-type]
    loaded.update(json.dumps({"kids": [b64url(KID1)]}).encode())  # release acknowledgement
    loaded.destruct()

    gone = system.construct_session(
        LicenseType.PERSISTENT_LICENSE,
        "persistent-session-id",
        session_id.encode(),
        b"",
        Recorder(),
    )
    with pytest.raises(OcdmCallError) as caught:
        gone.load()
    assert caught.value.function == "opencdm_session_load"


def test_temporary_session_cannot_be_loaded(hal: Hal) -> None:
    # On Thunder the load result is inverted (its profile's quirk): a failure still raises.
    init_type, init_data = clearkey_init_data(hal, KID1)
    session = hal.create_system(CLEARKEY).construct_session(
        LicenseType.TEMPORARY, init_type, init_data, b"", Recorder()
    )
    with pytest.raises(OcdmCallError):
        session.load()


def test_key_id_arguments_are_validated(hal: Hal) -> None:
    init_type, init_data = clearkey_init_data(hal, KID1)
    session = hal.create_system(CLEARKEY).construct_session(
        LicenseType.TEMPORARY, init_type, init_data, b"", Recorder()
    )
    for bad in (b"", b"short", bytes(17)):
        with pytest.raises(ValueError, match="key id"):
            session.has_key_id(bad)
        with pytest.raises(ValueError, match="key id"):
            session.status(bad)
    with pytest.raises(ValueError, match="key id"):
        session.error(b"x")
    assert isinstance(session.error(), int)
    assert isinstance(session.error(KID1), int)
    assert isinstance(session.system_error(), int)


def test_oversized_inputs_are_rejected_before_c(hal: Hal) -> None:
    system = hal.create_system(CLEARKEY)
    with pytest.raises(ValueError, match="65535"):
        system.construct_session(LicenseType.TEMPORARY, "webm", bytes(65536), b"", Recorder())
    with pytest.raises(ValueError, match="65535"):
        system.construct_session(LicenseType.TEMPORARY, "webm", KID1, bytes(70000), Recorder())
    session = system.construct_session(LicenseType.TEMPORARY, "webm", KID1, b"", Recorder())
    with pytest.raises(ValueError, match="65535"):
        session.update(b" " * 65536)
    with pytest.raises(ValueError, match="65535"):
        system.set_server_certificate(bytes(65536))
    with pytest.raises(ValueError):
        system.construct_session(99, "webm", KID1, b"", Recorder())  # type: ignore[arg-type]


@pytest.mark.refcdm
def test_closed_session_refuses_updates(hal: Hal, recorder: Recorder) -> None:
    session = hal.create_system(CLEARKEY).construct_session(
        LicenseType.TEMPORARY, "keyids", keyids_init_data(KID1), b"", recorder
    )
    session.update(jwk_license({KID1: KEY1}))
    session.close()
    with pytest.raises(OcdmCallError):
        session.update(jwk_license({KID1: KEY1}))


def test_closed_session_keeps_answering_until_destructed(hal: Hal, recorder: Recorder) -> None:
    init_type, init_data = clearkey_init_data(hal, KID1)
    session = hal.create_system(CLEARKEY).construct_session(
        LicenseType.TEMPORARY, init_type, init_data, b"", recorder
    )
    session.update(jwk_license({KID1: KEY1}))
    session.close()
    assert isinstance(session.status(KID1), OcdmKeyStatus)  # still answering
    session.destruct()
    session.destruct()  # idempotent
    assert session.destructed
    for call in (
        lambda: session.update(b"{}"),
        lambda: session.status(KID1),
        lambda: session.has_key_id(KID1),
        session.load,
        session.remove,
        session.close,
        session.metadata,
        session.buffer_id,
        lambda: session.decrypt(bytearray(16), scheme=EncryptionScheme.CENC, key_id=KID1),
    ):
        with pytest.raises(HalError, match="destructed"):
            call()
