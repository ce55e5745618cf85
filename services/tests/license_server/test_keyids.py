from __future__ import annotations

import base64

import pytest
from drmkit.license_server.keyids import b64_decode_lenient, b64url_encode, parse_key_bytes
from hypothesis import given
from hypothesis import strategies as st

RAW = bytes.fromhex("fb8f5f0b4c8e4c2b9f7a1d2e3c4b5a69")


@pytest.mark.parametrize(
    "text",
    [
        RAW.hex(),
        RAW.hex().upper(),
        "fb8f5f0b-4c8e-4c2b-9f7a-1d2e3c4b5a69",
        b64url_encode(RAW),
        base64.b64encode(RAW).decode(),  # standard alphabet, padded
        base64.b64encode(RAW).decode().rstrip("="),
        f"  {RAW.hex()}\n",
    ],
)
def test_parse_key_bytes_accepts_every_common_spelling(text: str) -> None:
    assert parse_key_bytes(text) == RAW


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "neither"),
        ("AA", "decodes to 1 bytes"),
        ("00", "neither"),  # non-zero trailing bits
        (RAW.hex()[:-4], "decodes to 21 bytes"),
        (RAW.hex() + "00", "neither"),
        ("zz" * 16, "decodes to 24 bytes"),
        ("ä" * 22, "neither"),
        ("a=b", "neither"),
        (b64url_encode(RAW)[:-1] + "x", "neither"),  # non-zero trailing bits
    ],
)
def test_parse_key_bytes_rejects_with_a_message(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match="key id") as info:
        parse_key_bytes(text)
    assert fragment in str(info.value)


def test_b64url_encode_has_no_padding_and_url_alphabet() -> None:
    assert b64url_encode(b"\xfb\xff") == "-_8"


@given(st.binary(min_size=1, max_size=600))
def test_b64_round_trip(raw: bytes) -> None:
    assert b64_decode_lenient(b64url_encode(raw)) == raw
    assert b64_decode_lenient(base64.b64encode(raw).decode()) == raw


@given(st.text(max_size=80))
def test_parse_key_bytes_never_fails_other_than_value_error(text: str) -> None:
    try:
        result = parse_key_bytes(text)
    except ValueError:
        return
    assert len(result) == 16
