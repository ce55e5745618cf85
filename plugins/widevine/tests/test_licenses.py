"""Real Widevine responses: the SignedMessage envelope, checked against pywidevine's schema."""

from __future__ import annotations

import pytest
from drmkit.errors import InvalidLicenseError
from drmkit_widevine.licenses import build_signed_message, check_signed_response
from hypothesis import given, settings
from hypothesis import strategies as st

license_protocol = pytest.importorskip("pywidevine.license_protocol_pb2")

RESPONSES = ["LICENSE", "ERROR_RESPONSE", "SERVICE_CERTIFICATE", "SUB_LICENSE", "EXTERNAL_LICENSE"]
REQUESTS = ["LICENSE_REQUEST", "SERVICE_CERTIFICATE_REQUEST", "CAS_LICENSE_REQUEST"]


@settings(max_examples=50, deadline=None)
@given(
    kind=st.sampled_from(RESPONSES),
    msg=st.binary(min_size=1, max_size=64),
    signature=st.binary(max_size=32),
)
def test_pywidevine_signed_responses_pass(kind: str, msg: bytes, signature: bytes) -> None:
    oracle = license_protocol.SignedMessage(
        type=license_protocol.SignedMessage.MessageType.Value(kind),
        msg=msg,
        signature=signature,
        session_key=b"k",
    ).SerializeToString()
    assert check_signed_response(oracle) == kind
    assert check_signed_response(build_signed_message(kind, msg, signature)) == kind


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (bytes.fromhex("0011223344556677"), "not a Widevine SignedMessage"),
        (b"\x12", "not a Widevine SignedMessage"),
        (b"\x12\x03ab", "not a Widevine SignedMessage"),
        (b"\x12\x02ab", "no (known) message type"),
        (b"\x08\x2a\x12\x02ab", "no (known) message type"),  # type 42
        (b"\x08\x02", "carries no message"),
        *[(build_signed_message(kind, b"m"), "is a request") for kind in REQUESTS],
    ],
)
def test_what_cannot_be_a_response_is_refused(data: bytes, fragment: str) -> None:
    with pytest.raises(InvalidLicenseError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        check_signed_response(data)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=100))
def test_fuzz_only_typed_errors(data: bytes) -> None:
    try:
        check_signed_response(data)
    except InvalidLicenseError as exc:
        assert exc.message
