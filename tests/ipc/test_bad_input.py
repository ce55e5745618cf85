"""Bad input on the wire: each gets a JSON-RPC error or loses its connection; others are served."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import threading
import time

import pytest
from drmkit.client.testing import RawConnection, ServerProcess

KID = base64.b64encode(bytes(16)).decode()


@pytest.fixture
def raw(module_server: ServerProcess) -> RawConnection:
    connection = RawConnection(module_server.socket_path)
    yield connection  # type: ignore[misc]
    connection.close()


def _baseline(server: ServerProcess) -> dict[str, object]:
    deadline = time.monotonic() + 10
    while True:
        stats = server.stats()
        idle = stats["connections"] == stats["media_keys"] == stats["key_sessions"] == 0
        if (idle and stats["shared_memory_regions"] == 0) or time.monotonic() > deadline:
            return stats
        time.sleep(0.05)


def test_garbage_frames_get_parse_errors_and_the_connection_survives(raw: RawConnection) -> None:
    for garbage in (b"{not json", b"\xff\xfe\x00", b"", b"[]", b"42", b'"text"'):
        raw.send_bytes(garbage)
        reply = raw.recv()
        assert reply is not None
        assert reply["id"] is None
        assert reply["error"]["code"] in (-32700, -32600)
    assert "result" in raw.call("get_state")


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"id": 1, "method": "get_state"}, -32600),  # no jsonrpc member
        ({"jsonrpc": "1.0", "id": 1, "method": "get_state"}, -32600),
        ({"jsonrpc": "2.0", "id": 1.5, "method": "get_state"}, -32600),
        ({"jsonrpc": "2.0", "id": 1, "method": 7}, -32600),
        ({"jsonrpc": "2.0", "id": 1, "method": "get_state", "params": [1]}, -32602),
        ({"jsonrpc": "2.0", "id": 1, "method": "get_state", "params": "x"}, -32600),
        ({"jsonrpc": "2.0", "id": 1, "method": "get_state", "extra": 1}, -32600),
        ([{"jsonrpc": "2.0", "id": 1, "method": "get_state"}], -32600),  # batch
        ({"jsonrpc": "2.0", "id": 1, "method": "no_such_method"}, -32601),
        ({"jsonrpc": "2.0", "id": 1, "method": "create_media_keys", "params": {}}, -32602),
        (
            {"jsonrpc": "2.0", "id": 1, "method": "create_media_keys", "params": {"key_system": 5}},
            -32602,
        ),
        (
            {"jsonrpc": "2.0", "id": 1, "method": "get_state", "params": {"unexpected": 1}},
            -32602,
        ),
        (
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "contains_key",
                "params": {"media_keys_handle": 0, "key_session_id": 1, "key_id": "%%%"},
            },
            -32602,
        ),
        (
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "contains_key",
                "params": {"media_keys_handle": "0", "key_session_id": 1, "key_id": KID},
            },
            -32602,
        ),
    ],
)
def test_wrong_envelopes_and_params(raw: RawConnection, message: object, code: int) -> None:
    raw.send(message)
    reply = raw.recv()
    assert reply is not None
    assert reply["error"]["code"] == code, reply
    assert reply["error"]["message"]
    assert "result" in raw.call("get_state")


def test_oversized_frame_drops_only_that_connection(module_server: ServerProcess) -> None:
    bad = RawConnection(module_server.socket_path)
    good = RawConnection(module_server.socket_path)
    try:
        bad.sock.sendall(struct.pack(">I", 64 * 1024 * 1024) + b"{")
        reply = bad.recv()
        assert reply is not None and reply["error"]["code"] == -32700
        assert "exceeds" in reply["error"]["message"]
        assert bad.recv() is None  # dropped
        assert "result" in good.call("get_state")
    finally:
        bad.close()
        good.close()


def test_handles_of_another_connection_look_unknown(module_server: ServerProcess) -> None:
    owner = RawConnection(module_server.socket_path)
    other = RawConnection(module_server.socket_path)
    try:
        created = owner.call("create_media_keys", {"key_system": "org.w3.clearkey"})["result"]
        handle = created["media_keys_handle"]
        session = owner.call("create_key_session", {"media_keys_handle": handle})["result"]
        session_id = session["key_session_id"]
        params = {"media_keys_handle": handle, "key_session_id": session_id, "key_id": KID}
        foreign = other.call("contains_key", params)["error"]
        unknown = other.call("contains_key", {**params, "media_keys_handle": 10**6})["error"]
        assert foreign["code"] == unknown["code"] == 1002  # BAD_SESSION_ID
        assert foreign["data"] == unknown["data"]
        assert foreign["message"].replace(str(handle), "N") == unknown["message"].replace(
            str(10**6), "N"
        )
        # Its own MediaKeys with the other connection's session id: unknown as well.
        mine = other.call("create_media_keys", {"key_system": "org.w3.clearkey"})["result"]
        stolen = other.call(
            "release_key_session",
            {"media_keys_handle": mine["media_keys_handle"], "key_session_id": session_id},
        )
        assert stolen["error"]["code"] == 1002
        assert owner.call("contains_key", params)["result"] is False  # untouched
    finally:
        owner.close()
        other.close()


def test_disconnect_mid_call_releases_everything(module_server: ServerProcess) -> None:
    baseline = _baseline(module_server)
    client = RawConnection(module_server.socket_path)
    handle = client.call("create_media_keys", {"key_system": "org.w3.clearkey"})["result"][
        "media_keys_handle"
    ]
    session_id = client.call("create_key_session", {"media_keys_handle": handle})["result"][
        "key_session_id"
    ]
    init = json.dumps({"kids": [base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()]})
    module_server.control(
        "test_control",
        {"command": {"op": "inject", "operation": "construct", "delay_ms": 500, "count": 1}},
    )
    client.send(
        {
            "jsonrpc": "2.0",
            "id": 99,
            "method": "generate_request",
            "params": {
                "media_keys_handle": handle,
                "key_session_id": session_id,
                "init_data_type": "keyids",
                "init_data": base64.b64encode(init.encode()).decode(),
            },
        }
    )
    time.sleep(0.1)  # the call is inside the CDM now
    client.close()
    after = _baseline(module_server)
    assert after["connections"] == baseline["connections"]
    assert after["media_keys"] == baseline["media_keys"]
    assert after["key_sessions"] == baseline["key_sessions"]
    assert after["cdm"] == baseline["cdm"]
    assert after["open_fds"] == baseline["open_fds"]


def test_a_flood_is_throttled_and_others_are_served(module_server: ServerProcess) -> None:
    baseline = _baseline(module_server)
    flood = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    flood.connect(str(module_server.socket_path))
    flood.settimeout(0.5)
    frame = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}).encode()
    frame = struct.pack(">I", len(frame)) + frame
    stop = threading.Event()
    sent = [0]

    def write_without_reading() -> None:
        while not stop.is_set():
            try:
                flood.sendall(frame * 64)
                sent[0] += 64
            except (TimeoutError, OSError):
                if stop.is_set():
                    return

    writer = threading.Thread(target=write_without_reading)
    writer.start()
    try:
        time.sleep(1.0)
        good = RawConnection(module_server.socket_path, timeout=5)
        for _ in range(20):
            assert "result" in good.call("get_state")
        good.close()
        stats = module_server.stats()
        assert stats["rss_bytes"] < baseline["rss_bytes"] + 256 * 1024 * 1024
    finally:
        stop.set()
        writer.join(10)
        flood.close()
    assert sent[0] > 0
    after = _baseline(module_server)
    assert after["connections"] == baseline["connections"]
    assert "result" in RawConnection(module_server.socket_path).call("get_state")


def test_bad_shared_memory_ranges_are_refused(raw: RawConnection) -> None:
    handle = raw.call("create_media_keys", {"key_system": "org.w3.clearkey"})["result"][
        "media_keys_handle"
    ]
    session_id = raw.call("create_key_session", {"media_keys_handle": handle})["result"][
        "key_session_id"
    ]
    metadata = {"cipher_mode": "cenc", "key_id": KID, "iv": base64.b64encode(bytes(8)).decode()}
    base = {"media_keys_handle": handle, "key_session_id": session_id, "metadata": metadata}
    no_memory = raw.call("decrypt", {**base, "shm": {"offset": 0, "length": 16}})
    assert no_memory["error"]["data"]["status"] == "INVALID_STATE"
    assert raw.call("get_shared_memory")["result"]["fds"] == 1  # fd sent (not received here)
    for offset, length in ((-1, 16), (2**31, 16), (0, 2**33)):
        reply = raw.call("decrypt", {**base, "shm": {"offset": offset, "length": length}})
        assert reply["error"]["code"] in (1001, -32602), reply
    both = raw.call("decrypt", {**base, "data": "AAAA", "shm": {"offset": 0, "length": 3}})
    assert both["error"]["code"] == -32602


PARAM_NAMES = [
    "media_keys_handle",
    "key_session_id",
    "key_system",
    "session_type",
    "init_data_type",
    "init_data",
    "ldl_state",
    "response",
    "key_id",
    "header",
    "certificate",
    "cdm_session_id",
    "metadata",
    "shm",
    "data",
    "timeout_s",
]


def _param_values() -> object:
    from hypothesis import strategies as st

    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-3, 3)
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.sampled_from(["org.w3.clearkey", "keyids", "cenc", "AAAAAAAAAAAAAAAAAAAAAA==", "%"])
        | st.text(max_size=20)
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(["offset", "length", "iv", "cipher_mode"]), inner)
        ),
        max_leaves=6,
    )


def test_fuzzed_params_for_every_method_never_hurt_the_server(
    module_server: ServerProcess,
) -> None:
    from drmkit.server.methods import CLIENT_METHODS
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    methods = sorted(m.name for m in CLIENT_METHODS if m.name != "ping")
    connection = RawConnection(module_server.socket_path)
    # A MediaKeys and a session to aim at, so that some calls get past the handle check.
    handle = connection.call("create_media_keys", {"key_system": "org.w3.clearkey"})["result"][
        "media_keys_handle"
    ]
    connection.call("create_key_session", {"media_keys_handle": handle})

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        st.sampled_from(methods),
        st.dictionaries(st.sampled_from(PARAM_NAMES), _param_values(), max_size=5),  # type: ignore[arg-type]
    )
    def call(method: str, params: dict[str, object]) -> None:
        reply = connection.call(method, params)
        if "error" in reply:
            code = reply["error"]["code"]
            assert code in (-32602, -32600) or 1001 <= code <= 1007, reply
        else:
            assert "result" in reply

    try:
        call()
        assert "result" in connection.call("get_state")
    finally:
        connection.close()
    after = _baseline(module_server)
    assert after["connections"] == after["media_keys"] == after["key_sessions"] == 0
