"""Frames, JSON-RPC envelopes, the dispatcher and the codec: exact behaviour, fuzzed parsers."""

from __future__ import annotations

import json
import os

import pytest
from drmkit import errors as drm_errors
from drmkit.errors import DrmError, InvalidInitDataError, LimitExceededError
from drmkit.ipc.codec import (
    DecryptMetadata,
    Params,
    capabilities_from_wire,
    capabilities_to_wire,
    decrypt_metadata,
    exception_from_rpc_error,
)
from drmkit.ipc.dispatcher import Dispatcher, mks_error
from drmkit.ipc.framing import HEADER, FrameDecoder, FrameTooLargeError, encode_frame
from drmkit.ipc.jsonrpc import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    Request,
    Response,
    RpcError,
    encode_error,
    encode_result,
    parse_incoming,
    parse_request,
)
from drmkit.sdk.model import KeySystemCapabilities
from drmkit.types import CipherMode, DecryptParams, Pattern, Subsample
from hypothesis import given, settings
from hypothesis import strategies as st

# -- framing ------------------------------------------------------------------------------------


@given(st.lists(st.binary(max_size=300), max_size=20), st.data())
def test_frames_survive_any_split(payloads: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(encode_frame(p) for p in payloads)
    decoder = FrameDecoder()
    out = []
    position = 0
    while position < len(stream):
        step = data.draw(st.integers(1, max(1, len(stream) - position)))
        decoder.feed(stream[position : position + step])
        position += step
        while (frame := decoder.next_frame()) is not None:
            out.append(frame)
    assert out == payloads
    assert decoder.buffered == 0


def test_oversized_frame_refused_from_its_header() -> None:
    decoder = FrameDecoder(max_size=100)
    decoder.feed(HEADER.pack(101))
    with pytest.raises(FrameTooLargeError, match="101 bytes exceeds the 100-byte limit"):
        decoder.next_frame()
    with pytest.raises(FrameTooLargeError):
        encode_frame(bytes(101), max_size=100)


# -- envelopes ----------------------------------------------------------------------------------


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_parse_request_never_fails_unexpectedly(payload: bytes) -> None:
    try:
        request = parse_request(payload)
    except RpcError as exc:
        assert exc.code in (PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS)
    else:
        assert isinstance(request, Request)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300)
@given(json_values)
def test_any_json_gets_a_request_or_a_precise_error(value: object) -> None:
    for parse in (parse_request, parse_incoming):
        try:
            parse(json.dumps(value).encode())
        except RpcError as exc:
            assert exc.code in (PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS)


def test_request_and_reply_shapes() -> None:
    request = parse_request(b'{"jsonrpc":"2.0","id":"a","method":"m","params":{"x":1}}')
    assert request == Request("m", {"x": 1}, "a")
    assert parse_request(b'{"jsonrpc":"2.0","method":"n"}').is_notification
    with pytest.raises(RpcError) as raised:
        parse_request(b'{"jsonrpc":"2.0","id":3,"method":"m","params":[1]}')
    assert raised.value.code == INVALID_PARAMS
    assert raised.value.data == {"id": 3}
    with pytest.raises(RpcError) as raised:
        parse_request(b'{"jsonrpc":"2.0","id":true,"method":"m"}')
    assert raised.value.code == INVALID_REQUEST
    reply = parse_incoming(encode_result(4, {"ok": True}))
    assert reply == Response(4, {"ok": True})
    error = parse_incoming(encode_error(5, RpcError(METHOD_NOT_FOUND, "nope")))
    assert isinstance(error, Response) and error.error is not None
    assert error.error.code == METHOD_NOT_FOUND


# -- dispatcher ---------------------------------------------------------------------------------


class EchoParams(Params):
    value: int


async def test_dispatcher_maps_every_failure() -> None:
    rpc: Dispatcher[object] = Dispatcher()

    @rpc.method("echo", EchoParams)
    async def echo(_: object, params: EchoParams) -> int:
        if params.value < 0:
            raise LimitExceededError("too small")
        if params.value == 0:
            raise RuntimeError("bug")
        return params.value

    method, params = rpc.validate(Request("echo", {"value": 2}, 1))
    assert await rpc.call(None, method, params) == 2
    with pytest.raises(RpcError) as raised:
        rpc.validate(Request("missing", {}, 1))
    assert raised.value.code == METHOD_NOT_FOUND
    for bad in ({"value": "2"}, {"value": 2, "extra": 1}, {}):
        with pytest.raises(RpcError) as raised:
            rpc.validate(Request("echo", bad, 1))
        assert raised.value.code == INVALID_PARAMS
    method, params = rpc.validate(Request("echo", {"value": -1}, 1))
    with pytest.raises(RpcError) as raised:
        await rpc.call(None, method, params)
    assert raised.value.code == 1001
    assert raised.value.data == {"status": "FAIL", "error": "LimitExceededError"}
    method, params = rpc.validate(Request("echo", {"value": 0}, 1))
    with pytest.raises(RpcError) as raised:
        await rpc.call(None, method, params)
    assert raised.value.code == -32603


# -- codec --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls",
    [
        value
        for value in vars(drm_errors).values()
        if isinstance(value, type) and issubclass(value, DrmError) and value is not DrmError
    ],
)
def test_every_mks_exception_class_survives_the_wire(cls: type[DrmError]) -> None:
    error = mks_error(cls("message"))
    back = exception_from_rpc_error(RpcError(error.code, error.message, error.data))
    assert type(back) is cls
    assert back is not None and back.message == "message" and back.status is cls.status


def test_unknown_error_class_falls_back_to_the_status() -> None:
    back = exception_from_rpc_error(RpcError(1002, "gone", {"error": "FutureError"}))
    assert isinstance(back, drm_errors.BadSessionIdError)
    assert exception_from_rpc_error(RpcError(-32602, "x")) is None
    assert exception_from_rpc_error(RpcError(1000, "ok?")) is None
    # A class name with another status is not trusted.
    mismatch = exception_from_rpc_error(RpcError(1004, "x", {"error": "InvalidInitDataError"}))
    assert type(mismatch) is drm_errors.InvalidStateError
    assert not isinstance(mismatch, InvalidInitDataError)


def test_decrypt_metadata_round_trip() -> None:
    params = DecryptParams(
        CipherMode.CBCS,
        os.urandom(16),
        os.urandom(16),
        (Subsample(1, 2), Subsample(3, 4)),
        Pattern(1, 9),
        True,
    )
    assert DecryptMetadata.model_validate(decrypt_metadata(params)).to_params() == params
    for bad in (
        {**decrypt_metadata(params), "pattern": [1]},
        {**decrypt_metadata(params), "subsamples": [[1, -2]]},
        {**decrypt_metadata(params), "iv": "not base64!"},
        {**decrypt_metadata(params), "cipher_mode": "rot13"},
    ):
        with pytest.raises(ValueError):
            DecryptMetadata.model_validate(bad)


def test_capabilities_round_trip() -> None:
    caps = KeySystemCapabilities(
        init_data_types=frozenset({"cenc", "keyids"}), server_certificate=True
    )
    assert capabilities_from_wire(json.loads(json.dumps(capabilities_to_wire(caps)))) == caps
