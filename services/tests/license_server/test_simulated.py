"""The simulated Widevine / PlayReady / Netflix license endpoints against the real reference CDM.

Challenges come from the reference CDM through the real HAL; the license the server returns is
given back to the same CDM session, which must then report the keys usable and decrypt with them.
"""

from __future__ import annotations

import base64
import json
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from drmkit.license_server.errors import LicenseServerError
from drmkit.license_server.simulated import parse_playready_challenge, parse_widevine_challenge
from drmkit_hal import EncryptionScheme, Hal, HalConfig, KeyStatus, LicenseType
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import KEY_A, KEY_B, KID_A, KID_B

UNKNOWN = bytes.fromhex("99" * 16)
WIDEVINE_SYSTEM_ID = bytes.fromhex("edef8ba979d64acea3c827dcd51d21ed")


class Recorder:
    def __init__(self) -> None:
        self.challenges: list[tuple[str, bytes]] = []
        self.keys: list[bytes] = []
        self.errors: list[str] = []
        self.challenged = threading.Event()
        self.updated = threading.Event()

    def on_challenge(self, url: str, challenge: bytes) -> None:
        self.challenges.append((url, challenge))
        self.challenged.set()

    def on_key_update(self, key_id: bytes) -> None:
        self.keys.append(key_id)

    def on_error(self, message: str) -> None:
        self.errors.append(message)

    def on_keys_updated(self) -> None:
        self.updated.set()


def pssh(system_id: bytes, data: bytes) -> bytes:
    body = bytes(4) + system_id + struct.pack(">I", len(data)) + data
    return struct.pack(">I", 8 + len(body)) + b"pssh" + body


def widevine_init_data(*kids: bytes) -> bytes:
    # WidevinePsshData: repeated bytes key_ids = 2.
    return pssh(WIDEVINE_SYSTEM_ID, b"".join(b"\x12\x10" + kid for kid in kids))


def playready_object(*kids: bytes) -> bytes:
    def guid_le(kid: bytes) -> bytes:
        return kid[3::-1] + kid[5:3:-1] + kid[7:5:-1] + kid[8:]

    kid_xml = "".join(
        f'<KID ALGID="AESCTR" VALUE="{base64.b64encode(guid_le(k)).decode()}"></KID>' for k in kids
    )
    header = (
        '<WRMHEADER xmlns="http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader" '
        f'version="4.2.0.0"><DATA><PROTECTINFO><KIDS>{kid_xml}</KIDS></PROTECTINFO></DATA>'
        "</WRMHEADER>"
    ).encode("utf-16-le")
    record = struct.pack("<HH", 1, len(header)) + header
    return struct.pack("<IH", 6 + len(record), 1) + record


@pytest.fixture
def hal(tmp_path: Path) -> Iterator[Hal]:
    with Hal.open(HalConfig(store_dir=tmp_path / "cdm")) as opened:
        yield opened


def decrypt_check(session: object, key: bytes, kid: bytes) -> None:
    clear = bytes(range(64))
    iv = bytes.fromhex("0001020304050607")
    encryptor = Cipher(algorithms.AES(key), modes.CTR(iv + bytes(8))).encryptor()
    buffer = bytearray(encryptor.update(clear) + encryptor.finalize())
    session.decrypt(buffer, scheme=EncryptionScheme.CENC, iv=iv, key_id=kid)  # type: ignore[attr-defined]
    assert bytes(buffer) == clear


def test_widevine_challenge_gets_a_license_the_cdm_accepts(hal: Hal, client: httpx.Client) -> None:
    recorder = Recorder()
    system = hal.create_system("com.widevine.alpha")
    session = system.construct_session(
        LicenseType.TEMPORARY, "cenc", widevine_init_data(KID_A, KID_B), b"", recorder
    )
    assert recorder.challenged.wait(5)
    _, challenge = recorder.challenges[0]
    assert challenge.startswith(b"0:Type:")
    response = client.post("/refcdm/widevine/license", content=challenge)
    assert response.status_code == 200, response.text
    license_ = response.json()
    assert license_["drmkit_test_license"] == 1
    assert license_["session_id"] == session.session_id
    assert license_["keys"] == [
        {"kid": KID_A.hex(), "key": KEY_A.hex()},
        {"kid": KID_B.hex(), "key": KEY_B.hex()},
    ]
    session.update(response.content)
    assert recorder.updated.wait(5) and not recorder.errors
    assert session.status(KID_A) == KeyStatus.USABLE
    decrypt_check(session, KEY_B, KID_B)
    session.close()
    session.destruct()


@pytest.mark.parametrize(
    ("key_system", "path"),
    [
        ("com.microsoft.playready", "/refcdm/playready/license"),
        ("com.youtube.playready", "/refcdm/playready/license"),
    ],
)
def test_playready_challenge_gets_a_license_the_cdm_accepts(
    hal: Hal, client: httpx.Client, key_system: str, path: str
) -> None:
    recorder = Recorder()
    system = hal.create_system(key_system)
    session = system.construct_session(
        LicenseType.TEMPORARY, "cenc", playready_object(KID_A), b"", recorder
    )
    assert recorder.challenged.wait(5)
    _, challenge = recorder.challenges[0]
    response = client.post(path, content=challenge)
    assert response.status_code == 200, response.text
    assert response.json()["key_system"] == key_system
    session.update(response.content)
    assert recorder.updated.wait(5) and not recorder.errors
    decrypt_check(session, KEY_A, KID_A)
    session.destruct()


def test_netflix_pulled_challenge_gets_a_license_for_store_license_data(
    hal: Hal, client: httpx.Client
) -> None:
    recorder = Recorder()
    system = hal.create_system("com.netflix.playready")
    session = system.construct_session(
        LicenseType.TEMPORARY, "", playready_object(KID_B), b"", recorder
    )
    challenge = session.get_challenge_data(False)
    response = client.post("/refcdm/netflix/license", content=challenge)
    assert response.status_code == 200, response.text
    secure_stop_id = session.store_license_data(response.content)
    assert len(secure_stop_id) == 16 and not recorder.errors
    session.select_key_id(KID_B)
    decrypt_check(session, KEY_B, KID_B)
    session.destruct()


def test_challenge_for_another_key_system_is_refused(hal: Hal, client: httpx.Client) -> None:
    recorder = Recorder()
    system = hal.create_system("com.microsoft.playready")
    system.construct_session(LicenseType.TEMPORARY, "cenc", playready_object(KID_A), b"", recorder)
    assert recorder.challenged.wait(5)
    response = client.post("/refcdm/netflix/license", content=recorder.challenges[0][1])
    assert response.status_code == 400
    assert "com.microsoft.playready" in response.json()["error"]["message"]


def test_unknown_kids_get_404_naming_them_in_hex(client: httpx.Client) -> None:
    body = {
        "drmkit_test_challenge": 1,
        "key_system": "com.widevine.alpha",
        "type": "license-request",
        "session_id": "abc",
        "kids": [KID_A.hex(), UNKNOWN.hex()],
    }
    response = client.post(
        "/refcdm/widevine/license", content=b"0:Type:" + json.dumps(body).encode()
    )
    assert response.status_code == 404
    assert response.json()["error"]["kids"] == [UNKNOWN.hex()]


def test_renewal_is_answered_and_release_is_refused(client: httpx.Client) -> None:
    def message(kind: str) -> bytes:
        body = {
            "drmkit_test_challenge": 1,
            "key_system": "com.widevine.alpha",
            "type": kind,
            "session_id": "abc",
            "kids": [KID_A.hex()],
        }
        return b"1:Type:" + json.dumps(body).encode()

    assert (
        client.post("/refcdm/widevine/license", content=message("license-renewal")).status_code
        == 200
    )
    released = client.post("/refcdm/widevine/license", content=message("license-release"))
    assert released.status_code == 400
    assert released.json()["error"]["code"] == "unsupported_message_type"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "not JSON"),
        (b'{"drmkit_test_challenge":1}', '"type"'),
        (b"0:Type:not json", "not JSON"),
        (b"0:Type:[1]", "drmkit_test_challenge"),
        (b'0:Type:{"drmkit_test_challenge":1,"key_system":"com.widevine.alpha"}', '"type"'),
        (
            b'0:Type:{"drmkit_test_challenge":1,"key_system":"com.widevine.alpha",'
            b'"type":"license-request","session_id":"s","kids":[]}',
            "no key ids",
        ),
        (
            b'0:Type:{"drmkit_test_challenge":1,"key_system":"com.widevine.alpha",'
            b'"type":"license-request","session_id":"s","kids":["zz"]}',
            "not hex",
        ),
        (
            b'0:Type:{"drmkit_test_challenge":1,"key_system":"com.widevine.alpha",'
            b'"type":"license-request","session_id":"s","kids":["' + b"00" * 17 + b'"]}',
            "17 bytes",
        ),
    ],
)
def test_malformed_widevine_challenges_get_400(
    client: httpx.Client, body: bytes, fragment: str
) -> None:
    response = client.post("/refcdm/widevine/license", content=body)
    assert response.status_code == 400
    assert fragment in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"<not xml", "not XML"),
        (b"<a><b/></a>", "no DrmkitTestRequest"),
        (b'<DrmkitTestRequest KeySystem="com.microsoft.playready"/>', "lacks"),
        (
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]>'
            b"<DrmkitTestRequest>&lol;</DrmkitTestRequest>",
            "DTD",
        ),
        (
            b'<DrmkitTestRequest KeySystem="com.microsoft.playready" Type="license-request" '
            b'SessionId="s"><KID>nothex</KID></DrmkitTestRequest>',
            "not hex",
        ),
    ],
)
def test_malformed_playready_challenges_get_400(
    client: httpx.Client, body: bytes, fragment: str
) -> None:
    response = client.post("/refcdm/playready/license", content=body)
    assert response.status_code == 400
    assert fragment in response.json()["error"]["message"]


def test_parsers_read_the_documented_fields() -> None:
    challenge = parse_widevine_challenge(
        b'2:Type:{"drmkit_test_challenge":1,"key_system":"com.widevine.alpha",'
        b'"type":"license-release","session_id":"ab","kids":["00ff","00ff"],"x":1}'
    )
    assert challenge.message_type == "license-release"
    assert challenge.kids == (bytes.fromhex("00ff"),)
    xml = (
        b'<e xmlns="urn:x"><DrmkitTestRequest KeySystem="com.netflix.playready" '
        b'Type="license-request" LDL="1" SessionId="id=="><KID> 0011 </KID></DrmkitTestRequest></e>'
    )
    parsed = parse_playready_challenge(xml)
    assert (parsed.key_system, parsed.session_id, parsed.kids) == (
        "com.netflix.playready",
        "id==",
        (bytes.fromhex("0011"),),
    )


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=400),
        st.builds(
            lambda n, b: f"{n}:Type:".encode() + b, st.integers(0, 3), st.binary(max_size=300)
        ),
        st.builds(
            lambda doc: b"0:Type:" + json.dumps(doc).encode(),
            st.dictionaries(
                st.sampled_from(
                    ["drmkit_test_challenge", "key_system", "type", "session_id", "kids"]
                ),
                st.one_of(
                    st.integers(0, 2),
                    st.text(max_size=20),
                    st.lists(st.text(alphabet="0123456789abcdefxyz", max_size=40), max_size=3),
                ),
            ),
        ),
    )
)
def test_widevine_parser_fuzz_only_raises_typed_errors(body: bytes) -> None:
    try:
        challenge = parse_widevine_challenge(body)
    except LicenseServerError as exc:
        assert exc.status == 400
        return
    assert challenge.kids and all(1 <= len(k) <= 16 for k in challenge.kids)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=400),
        st.builds(
            lambda attrs, kids: (
                f"<r><DrmkitTestRequest {attrs}>"
                + "".join(f"<KID>{k}</KID>" for k in kids)
                + "</DrmkitTestRequest></r>"
            ).encode(),
            st.sampled_from(
                ['KeySystem="a" Type="b" SessionId="c"', 'KeySystem="a"', 'Type="x" SessionId=""']
            ),
            st.lists(st.text(alphabet="0123456789abcdef<>&;xz", max_size=40), max_size=3),
        ),
    )
)
def test_playready_parser_fuzz_only_raises_typed_errors(body: bytes) -> None:
    try:
        challenge = parse_playready_challenge(body)
    except LicenseServerError as exc:
        assert exc.status == 400
        return
    assert challenge.kids and all(1 <= len(k) <= 16 for k in challenge.kids)
