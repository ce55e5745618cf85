"""Clear Key parsers: W3C formats, EME invalid inputs, fuzzing (typed errors, never a crash)."""

from __future__ import annotations

import base64
import contextlib
import json
import struct

import pytest
from drmkit.core import KeySessionType
from drmkit.errors import InvalidInitDataError, InvalidLicenseError
from drmkit_clearkey import formats
from drmkit_clearkey.license_helper import ClearKeyLicenseHelper
from hypothesis import given, settings
from hypothesis import strategies as st

KID = bytes.fromhex("ad13f9ea2be698b875f504a8e3ccea64")
SPEC_PSSH = bytes.fromhex(
    "0000003470737368010000001077efecc0b24d02ace33c1e52e2fb4b00000001"
    "ad13f9ea2be698b875f504a8e3ccea6400000000"
)


def test_common_pssh_matches_the_spec_example() -> None:
    assert formats.make_common_pssh([KID]) == SPEC_PSSH
    assert formats.parse_cenc(SPEC_PSSH) == [KID]


def test_keyids_round_trip_and_rialto_conformance_sample() -> None:
    assert formats.parse_keyids(formats.make_keyids([KID, b"\x01"])) == [KID, b"\x01"]
    assert formats.parse_keyids(b'{"kids":["MDEyMzQ1Njc4OTo7PD0-Pw"]}') == [b"0123456789:;<=>?"]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"[]",
        b'{"kids":[]}',
        b'{"kids":"abc"}',
        b'{"kids":[""]}',  # a 0-byte key id (EME B5)
        json.dumps({"kids": [formats.b64url_encode(bytes(600))]}).encode(),  # 600 bytes
        b'{"kids":["AAAAAAAAAAAAAAAAAAAAAA=="]}',  # padded base64url
        b'{"kids":["AAAA+AAAAAAAAAAAAAAAAA"]}',  # standard alphabet
        '{"kids":["AAAAAAAAAAAAAAAAAAAA\u00e9A"]}'.encode(),
        b'{"kids":[1]}',
    ],
)
def test_invalid_keyids(data: bytes) -> None:
    with pytest.raises(InvalidInitDataError):
        formats.parse_keyids(data)


def pssh(system_id: bytes, kids: list[bytes], version: int = 1, payload: bytes = b"") -> bytes:
    body = bytes([version, 0, 0, 0]) + system_id
    if version == 1:
        body += struct.pack(">I", len(kids)) + b"".join(kids)
    body += struct.pack(">I", len(payload)) + payload
    return struct.pack(">I", 8 + len(body)) + b"pssh" + body


WIDEVINE = bytes.fromhex("edef8ba979d64acea3c827dcd51d21ed")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        bytes(40),
        SPEC_PSSH[:-1],  # truncated
        struct.pack(">I", 0xFFFF) + SPEC_PSSH[4:],  # size beyond the data (EME B4)
        struct.pack(">I", 0) + b"psss" + SPEC_PSSH[8:],  # wrong type, size 0 (EME B4)
        pssh(WIDEVINE, [], version=0, payload=b"\x12\x10" + KID),  # no Common box (EME B6)
        pssh(formats.COMMON_SYSTEM_ID, [], version=1),  # no key ids
        pssh(formats.COMMON_SYSTEM_ID, [KID], version=2),
        SPEC_PSSH + b"\x00",  # trailing garbage
    ],
)
def test_invalid_cenc(data: bytes) -> None:
    with pytest.raises(InvalidInitDataError):
        formats.parse_cenc(data)


def test_cenc_skips_other_systems() -> None:
    data = pssh(WIDEVINE, [], version=0, payload=b"abc") + SPEC_PSSH
    assert formats.parse_cenc(data) == [KID]


def test_webm() -> None:
    assert formats.parse_webm(KID) == [KID]
    for bad in (b"", bytes(513)):
        with pytest.raises(InvalidInitDataError):
            formats.parse_webm(bad)


def license_json(**overrides: object) -> bytes:
    key = {"kty": "oct", "kid": formats.b64url_encode(KID), "k": formats.b64url_encode(bytes(16))}
    key.update({k: v for k, v in overrides.items() if k in ("kty", "kid", "k", "alg")})
    document: dict[str, object] = {"keys": [key]}
    if "type" in overrides:
        document["type"] = overrides["type"]
    return json.dumps(document).encode()


def test_license_parses_and_ignores_unknown_members() -> None:
    parsed = formats.parse_license(license_json(alg="A128KW"))
    assert parsed.keys == {KID: bytes(16)}
    assert parsed.license_type is None


@pytest.mark.parametrize(
    "data",
    [
        bytes.fromhex("0011223344556677"),  # EME C3
        b'{"keys":[{"kty":"oct","kid":"MDEyMzQ1Njc4O\\uDC00TAxMjM0NQ","k":"AAAAAAAAAAAAAAAAAAAAAA"}]}',
        b'{"keys":[]}',
        license_json(kty="RSA"),  # EME C11
        license_json(k=formats.b64url_encode(bytes(15))),  # k not 16 bytes
        license_json(k="AAAAAAAAAAAAAAAAAAAAAA=="),  # padded
        license_json(kid=""),
        license_json(type="persistent-usage-record"),
        '{"keys":[{"kty":"oct","kid":"ÃÃ","k":"AAAAAAAAAAAAAAAAAAAAAA"}]}'.encode(),  # EME C5
    ],
)
def test_invalid_license(data: bytes) -> None:
    with pytest.raises(InvalidLicenseError):
        formats.parse_license(data)


def test_same_key_id_twice_last_wins() -> None:
    first = {"kty": "oct", "kid": formats.b64url_encode(KID), "k": formats.b64url_encode(bytes(16))}
    second = dict(first, k=formats.b64url_encode(b"\x01" * 16))
    parsed = formats.parse_license(json.dumps({"keys": [first, second]}).encode())
    assert parsed.keys == {KID: b"\x01" * 16}


def test_license_helper_answers_requests_in_both_base64_alphabets() -> None:
    helper = ClearKeyLicenseHelper()
    kid = bytes.fromhex("fbfffffffffffffffffffffffffffffe")  # encodes with '+' / '/' vs '-' / '_'
    for request in (
        json.dumps({"kids": [formats.b64url_encode(kid)], "type": "temporary"}).encode(),
        b'{"kids" : ["' + base64.b64encode(kid).rstrip(b"=") + b'"],"type":"temporary"}',
    ):
        assert helper.key_ids_of_request(request) == [kid]
    built = helper.build_license(b"", {kid: bytes(16)}, KeySessionType.PERSISTENT_LICENCE)
    parsed = formats.parse_license(built)
    assert parsed.keys == {kid: bytes(16)} and parsed.license_type == "persistent-license"
    assert [t for t, _ in helper.init_data([kid])] == ["keyids", "cenc", "webm"]


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_init_data_parsers_raise_only_typed_errors(data: bytes) -> None:
    for init_data_type in ("keyids", "cenc", "webm"):
        with contextlib.suppress(InvalidInitDataError):
            formats.parse_init_data(init_data_type, data)


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=30),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=20,
    )
)
def test_fuzz_license_parser_with_json_shapes(document: object) -> None:
    data = json.dumps(document).encode()
    for shaped in (data, json.dumps({"keys": [document]}).encode()):
        with contextlib.suppress(InvalidLicenseError):
            formats.parse_license(shaped)
        with contextlib.suppress(InvalidInitDataError):
            formats.parse_keyids(shaped)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(min_size=16, max_size=16), min_size=1, max_size=8))
def test_fuzz_pssh_round_trip(kids: list[bytes]) -> None:
    data = formats.make_common_pssh(kids)
    assert formats.parse_cenc(data) == kids
    for cut in range(0, len(data), 7):
        with contextlib.suppress(InvalidInitDataError):
            formats.parse_cenc(data[:cut])
