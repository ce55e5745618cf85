"""The simulated Widevine / PlayReady / Netflix license endpoints against the real reference CDM.

The endpoints are the ones the installed plugins declare (``drm_test_license_endpoints``); the
license server's generic code answers them. Challenges come from the reference CDM through the
real HAL; the license the server returns is given back to the same CDM session, which must then
report the keys usable and decrypt with them.
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
from drmkit.license_server import KeyStore, LicenseServerThread, create_app
from drmkit.license_server.app import license_endpoints
from drmkit.license_server.config import LicenseServerSettings
from drmkit.license_server.errors import LicenseServerError
from drmkit.license_server.simulated import parse_challenge
from drmkit.sdk import (
    TestChallenge,
    TestLicenseEndpoint,
    parse_json_test_challenge,
    parse_xml_test_challenge,
)
from drmkit_hal import EncryptionScheme, Hal, HalConfig, LicenseType, OcdmKeyStatus
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import KEY_A, KEY_B, KID_A, KID_B

UNKNOWN = bytes.fromhex("99" * 16)
WIDEVINE_SYSTEM_ID = bytes.fromhex("edef8ba979d64acea3c827dcd51d21ed")
# The SDK's parsers behind endpoints of the license server's own: its generic parsing, alone.
JSON_ENDPOINT = TestLicenseEndpoint(
    "/json", "com.widevine.alpha", frozenset({"com.widevine.alpha"}), parse_json_test_challenge
)
XML_ENDPOINT = TestLicenseEndpoint(
    "/xml", "com.netflix.playready", frozenset({"com.netflix.playready"}), parse_xml_test_challenge
)


def parse_widevine_challenge(body: bytes) -> TestChallenge:
    return parse_challenge(JSON_ENDPOINT, body)


def parse_playready_challenge(body: bytes) -> TestChallenge:
    return parse_challenge(XML_ENDPOINT, body)


@pytest.fixture(autouse=True)
def _plugins_installed(plugin_endpoints: list[TestLicenseEndpoint]) -> None:
    paths = {e.path for e in plugin_endpoints}
    wanted = {"/refcdm/widevine/license", "/refcdm/playready/license", "/refcdm/netflix/license"}
    if not wanted <= paths:
        pytest.skip("the Widevine and PlayReady/Netflix plugins are not installed")


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
    assert session.status(KID_A) == OcdmKeyStatus.USABLE
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


# -- the generic route, whatever the plugin -------------------------------------------------------


def test_installed_plugins_declare_the_reference_cdm_endpoints(
    plugin_endpoints: list[TestLicenseEndpoint],
) -> None:
    declared = {e.path: (e.key_system, e.key_systems) for e in plugin_endpoints}
    assert declared["/refcdm/widevine/license"] == ("com.widevine.alpha", {"com.widevine.alpha"})
    assert declared["/refcdm/playready/license"] == (
        "com.microsoft.playready",
        {"com.microsoft.playready", "com.youtube.playready"},
    )
    assert declared["/refcdm/netflix/license"] == (
        "com.netflix.playready",
        {"com.netflix.playready"},
    )


def test_a_plugin_parser_raising_value_error_gives_400() -> None:
    def strict(body: bytes) -> TestChallenge:
        raise ValueError("not a vendor challenge")

    endpoint = TestLicenseEndpoint("/x", "com.example", frozenset({"com.example"}), strict)
    with pytest.raises(LicenseServerError) as caught:
        parse_challenge(endpoint, b"anything")
    assert caught.value.status == 400 and caught.value.code == "invalid_request"
    assert "not a vendor challenge" in str(caught.value)


def test_any_declared_endpoint_is_served_by_the_generic_code(store: KeyStore) -> None:
    def parse(body: bytes) -> TestChallenge:
        key_system, kid = body.decode().split()
        return TestChallenge(key_system, "license-request", "s1", (bytes.fromhex(kid),))

    endpoint = TestLicenseEndpoint(
        "/example/license", "com.example", frozenset({"com.example", "com.example.b"}), parse
    )
    app = create_app(store, LicenseServerSettings(), test_endpoints=[endpoint])
    with (
        LicenseServerThread(app, "127.0.0.1", 0) as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        issued = client.post("/example/license", content=f"com.example.b {KID_A.hex()}")
        assert issued.status_code == 200, issued.text
        assert issued.json() == {
            "drmkit_test_license": 1,
            "key_system": "com.example.b",
            "session_id": "s1",
            "keys": [{"kid": KID_A.hex(), "key": KEY_A.hex()}],
        }
        unknown = client.post("/example/license", content=f"com.example {UNKNOWN.hex()}")
        assert unknown.status_code == 404
        assert unknown.json()["error"]["kids"] == [UNKNOWN.hex()]
        other = client.post("/example/license", content=f"com.other {KID_A.hex()}")
        assert other.status_code == 400
        assert other.json()["error"]["message"] == (
            "this endpoint serves com.example; the challenge is for 'com.other'"
        )
        assert client.post("/refcdm/widevine/license", content=b"x").status_code == 404
        metrics = client.get("/metrics").text
        assert 'key_system="com.example",operation="license",outcome="ok"} 1.0' in metrics


def test_test_endpoints_and_a_full_route_list_are_exclusive(store: KeyStore) -> None:
    with pytest.raises(ValueError, match="not both"):
        create_app(store, LicenseServerSettings(), test_endpoints=[JSON_ENDPOINT], endpoints=())


@pytest.mark.parametrize("path", ["/clearkey/license", "/healthz", "/metrics"])
def test_an_endpoint_cannot_take_another_route(path: str) -> None:
    endpoint = TestLicenseEndpoint(
        path, "com.example", frozenset({"com.example"}), parse_json_test_challenge
    )
    with pytest.raises(ValueError, match=f"two license server routes at {path}"):
        license_endpoints([endpoint])


@pytest.mark.parametrize(
    ("path", "key_systems"),
    [("refcdm/x", {"com.example"}), ("//x", {"com.example"}), ("/x", {"com.other"})],
)
def test_endpoint_declarations_are_checked(path: str, key_systems: set[str]) -> None:
    with pytest.raises(ValueError):
        TestLicenseEndpoint(path, "com.example", frozenset(key_systems), parse_json_test_challenge)
