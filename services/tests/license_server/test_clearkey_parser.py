"""The W3C Clear Key request parser, fuzzed: only 400 errors or valid requests come out."""

from __future__ import annotations

import json

import pytest
from drmkit.license_server.clearkey import (
    MAX_KID_BYTES,
    parse_license_request,
    parse_release_request,
)
from drmkit.license_server.errors import LicenseServerError
from drmkit.license_server.keyids import b64url_encode
from hypothesis import given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=15,
)
requests = st.fixed_dictionaries(
    {},
    optional={
        "kids": st.one_of(
            st.lists(st.binary(min_size=0, max_size=600).map(b64url_encode), max_size=5),
            json_values,
        ),
        "type": st.one_of(st.sampled_from(["temporary", "persistent-license", "x"]), json_values),
    },
)


@settings(max_examples=250, deadline=None)
@given(st.one_of(st.binary(max_size=500), requests.map(lambda r: json.dumps(r).encode())))
def test_parser_returns_a_valid_request_or_a_400(body: bytes) -> None:
    try:
        request = parse_license_request(body)
    except LicenseServerError as exc:
        assert exc.status == 400 and exc.code == "invalid_request"
        return
    assert request.kids and all(1 <= len(k) <= MAX_KID_BYTES for k in request.kids)
    assert len(set(request.kids)) == len(request.kids)
    assert request.session_type in ("temporary", "persistent-license")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_release_parser_returns_kids_or_a_400(body: bytes) -> None:
    try:
        kids = parse_release_request(body)
    except LicenseServerError as exc:
        assert exc.status == 400
        return
    assert kids


@pytest.mark.parametrize("size", [1, 16, 512])
def test_kid_lengths_within_the_w3c_range_are_accepted(size: int) -> None:
    body = json.dumps({"kids": [b64url_encode(bytes(size))]}).encode()
    assert parse_license_request(body).kids == (bytes(size),)
