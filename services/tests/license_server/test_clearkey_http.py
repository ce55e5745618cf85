"""The license server over real HTTP: uvicorn on a loopback port, httpx as the client."""

from __future__ import annotations

import base64
import json
import logging
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from drmkit.license_server import KeyStore, KeyStoreError, LicenseServerThread, create_app
from drmkit.license_server.config import LicenseServerSettings
from drmkit.license_server.keyids import b64url_encode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import KEY_A, KEY_B, KID_A, KID_B, ServeFactory

UNKNOWN = bytes.fromhex("ffeeddccbbaa99887766554433221100")


def b64u(raw: bytes) -> str:
    return b64url_encode(raw)


def license_request(*kids: bytes, session_type: str | None = "temporary") -> dict[str, object]:
    body: dict[str, object] = {"kids": [b64u(k) for k in kids]}
    if session_type is not None:
        body["type"] = session_type
    return body


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    return error  # type: ignore[no-any-return]


def test_health_reports_the_key_count(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "keys": 2}


def test_license_for_one_key(client: httpx.Client) -> None:
    response = client.post("/clearkey/license", json=license_request(KID_A))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "keys": [{"kty": "oct", "kid": b64u(KID_A), "k": b64u(KEY_A)}],
        "type": "temporary",
    }


def test_license_for_several_keys_keeps_request_order_and_collapses_duplicates(
    client: httpx.Client,
) -> None:
    response = client.post("/clearkey/license", json=license_request(KID_B, KID_A, KID_B))
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert [(k["kid"], k["k"]) for k in keys] == [
        (b64u(KID_B), b64u(KEY_B)),
        (b64u(KID_A), b64u(KEY_A)),
    ]


def test_persistent_license_type_is_echoed_and_missing_type_means_temporary(
    client: httpx.Client,
) -> None:
    persistent = client.post(
        "/clearkey/license", json=license_request(KID_A, session_type="persistent-license")
    )
    assert persistent.json()["type"] == "persistent-license"
    default = client.post("/clearkey/license", json=license_request(KID_A, session_type=None))
    assert default.json()["type"] == "temporary"


def test_standard_base64_kids_as_sent_by_ocdm_clearkey_are_accepted(client: httpx.Client) -> None:
    # KID_B's standard base64 contains '+' / '/'? Use a kid that does, like real OCDM output.
    kid = bytes.fromhex("fbff" + "00" * 14)
    client_store_kid = base64.b64encode(kid).decode().rstrip("=")
    assert "+" in client_store_kid or "/" in client_store_kid
    body = json.dumps({"kids": [client_store_kid], "type": "temporary"}).replace(":", " :", 1)
    response = client.post("/clearkey/license", content=body)
    # Unknown in the store, but parsed: the 404 names the kid in base64url.
    error = assert_error(response, 404, "unknown_kids")
    assert error["kids"] == [b64u(kid)]


def test_unknown_kids_get_404_naming_all_of_them_and_no_partial_license(
    client: httpx.Client,
) -> None:
    other = bytes(16)
    response = client.post("/clearkey/license", json=license_request(KID_A, UNKNOWN, other))
    error = assert_error(response, 404, "unknown_kids")
    assert error["kids"] == [b64u(UNKNOWN), b64u(other)]
    assert "keys" not in response.json()


def test_release_is_acknowledged_with_the_kids(client: httpx.Client) -> None:
    response = client.post("/clearkey/release", json={"kids": [b64u(KID_A), b64u(UNKNOWN)]})
    assert response.status_code == 200
    assert response.json() == {"kids": [b64u(KID_A), b64u(UNKNOWN)]}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"", "not JSON"),
        (b"0011223344556677", "not JSON"),
        (b"12", "must be a JSON object"),
        (b"{not json", "not JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[]", "must be a JSON object"),
        (b'"kids"', "must be a JSON object"),
        (b"{}", 'no "kids"'),
        (b'{"kids": null}', 'no "kids"'),
        (b'{"kids": []}', "non-empty array"),
        (b'{"kids": "ABEiM0RVZneImaq7zN3u_w"}', "non-empty array"),
        (b'{"kids": [42]}', "is not a string"),
        (b'{"kids": ["not base64!"]}', "not base64url"),
        (b'{"kids": ["MDEyMzQ1Njc4O\\uDC00TAxMjM0NQ"]}', "not base64url"),
        (b'{"kids": ["ABEiM0RVZneImaq7zN3u_x"]}', "not base64url"),
        (b'{"kids": ["' + b64u(bytes(600)).encode() + b'"]}', "600 bytes"),
        (b'{"kids": ["ABEiM0RVZneImaq7zN3u_w"], "type": "persistent"}', '"type" must be'),
        (b'{"kids": ["ABEiM0RVZneImaq7zN3u_w"], "type": 1}', '"type" must be'),
        (b"[" * 5000 + b"]" * 5000, "not JSON"),
    ],
)
def test_malformed_requests_get_400(client: httpx.Client, body: bytes, fragment: str) -> None:
    response = client.post("/clearkey/license", content=body)
    error = assert_error(response, 400, "invalid_request")
    assert fragment in str(error["message"])


def test_malformed_release_gets_400(client: httpx.Client) -> None:
    assert_error(client.post("/clearkey/release", content=b"{}"), 400, "invalid_request")


def test_unknown_members_are_ignored(client: httpx.Client) -> None:
    body = {**license_request(KID_A), "extra": {"nested": [1, 2]}}
    assert client.post("/clearkey/license", json=body).status_code == 200


def test_oversized_body_with_content_length_gets_413(serve: ServeFactory) -> None:
    with serve(max_body_bytes=1024) as client:
        response = client.post("/clearkey/license", content=b" " * 1025)
        error = assert_error(response, 413, "payload_too_large")
        assert error["limit"] == 1024
        # Exactly at the limit is fine (padding whitespace is valid JSON).
        at_limit = json.dumps(license_request(KID_A)).encode().ljust(1024)
        assert client.post("/clearkey/license", content=at_limit).status_code == 200


def test_oversized_chunked_body_without_content_length_gets_413(serve: ServeFactory) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            yield b" " * 512

    with serve(max_body_bytes=4096) as client:
        request = client.build_request("POST", "/clearkey/license", content=chunks())
        assert "content-length" not in request.headers
        assert request.headers["transfer-encoding"] == "chunked"
        assert_error(client.send(request), 413, "payload_too_large")


def test_bearer_token_is_required_when_configured(serve: ServeFactory) -> None:
    with serve(token="s3cret-token") as client:
        body = license_request(KID_A)
        missing = client.post("/clearkey/license", json=body)
        assert_error(missing, 401, "unauthorized")
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = client.post(
            "/clearkey/license", json=body, headers={"Authorization": "Bearer s3cret-tokem"}
        )
        assert_error(wrong, 401, "unauthorized")
        wrong_scheme = client.post(
            "/clearkey/license", json=body, headers={"Authorization": "Basic s3cret-token"}
        )
        assert_error(wrong_scheme, 401, "unauthorized")
        ok = client.post(
            "/clearkey/license", json=body, headers={"Authorization": "Bearer s3cret-token"}
        )
        assert ok.status_code == 200
        # Auth is checked before the body is read or parsed.
        unauth_garbage = client.post("/clearkey/license", content=b"garbage")
        assert_error(unauth_garbage, 401, "unauthorized")
        # Health and metrics stay open for probes and scrapers.
        assert client.get("/healthz").status_code == 200
        assert client.get("/metrics").status_code == 200


def test_unknown_route_and_wrong_method_are_json_errors(client: httpx.Client) -> None:
    assert_error(client.get("/nope"), 404, "not_found")
    assert_error(client.get("/clearkey/license"), 405, "method_not_allowed")


def test_key_store_failure_gives_503_not_a_crash(
    serve: ServeFactory, store: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> object:
        raise KeyStoreError("disk on fire")

    with serve() as client:
        monkeypatch.setattr(store, "lookup", broken)
        monkeypatch.setattr(store, "__len__", broken, raising=False)
        response = client.post("/clearkey/license", json=license_request(KID_A))
        error = assert_error(response, 503, "key_store_unavailable")
        assert "disk on fire" in str(error["message"])


def test_health_is_503_when_the_store_is_unusable(serve: ServeFactory, store: KeyStore) -> None:
    with serve() as client:
        store.path.unlink()
        store.path.mkdir()  # a directory where the database was: sqlite cannot open it
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["status"] == "unavailable"
        assert response.json()["error"]["code"] == "key_store_unavailable"


def test_metrics_count_requests_by_outcome(client: httpx.Client) -> None:
    client.post("/clearkey/license", json=license_request(KID_A))
    client.post("/clearkey/license", json=license_request(UNKNOWN))
    client.post("/clearkey/license", content=b"x")
    text = client.get("/metrics").text
    label = 'key_system="org.w3.clearkey",operation="license"'
    assert f'drmkit_license_requests_total{{{label},outcome="ok"}} 1.0' in text
    assert f'drmkit_license_requests_total{{{label},outcome="unknown_kids"}} 1.0' in text
    assert f'drmkit_license_requests_total{{{label},outcome="invalid_request"}} 1.0' in text
    assert "drmkit_license_request_duration_seconds_bucket" in text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=30),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.sampled_from(["kids", "type", "x"]), inner, max_size=3)
            ),
            max_leaves=12,
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_fuzzed_bodies_never_cause_a_server_error(client: httpx.Client, body: bytes) -> None:
    response = client.post("/clearkey/license", content=body)
    assert response.status_code in (200, 400, 404), response.text
    assert "error" in response.json() or "keys" in response.json()


def test_client_vanishing_mid_body_is_not_a_server_error(client: httpx.Client) -> None:
    host, port = client.base_url.host, client.base_url.port
    assert port is not None
    with socket.create_connection((host, port), timeout=5) as raw:
        raw.sendall(
            b"POST /clearkey/license HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
            + b'{"kids": ['
        )
    # The server is still healthy and counted the disconnect as such, not as an internal error.
    assert client.get("/healthz").status_code == 200
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        text = client.get("/metrics").text
        if 'outcome="client_disconnect"} 1.0' in text:
            break
        time.sleep(0.05)
    assert 'outcome="client_disconnect"} 1.0' in text
    assert 'outcome="error"' not in text


def test_concurrent_requests_are_all_answered(client: httpx.Client) -> None:
    body = license_request(KID_A, KID_B)

    def fetch(_: int) -> int:
        return client.post("/clearkey/license", json=body).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(fetch, range(64)))
    assert statuses == [200] * 64


def test_a_bug_gives_a_json_500_and_the_server_keeps_serving(
    serve: ServeFactory, store: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def buggy(*_: object, **__: object) -> object:
        raise RuntimeError("unexpected")

    with serve() as client:
        monkeypatch.setattr(store, "lookup", buggy)
        response = client.post("/clearkey/license", json=license_request(KID_A))
        error = assert_error(response, 500, "internal_error")
        assert "unexpected" not in str(error["message"])  # no internals leak to clients
        monkeypatch.undo()
        assert client.post("/clearkey/license", json=license_request(KID_A)).status_code == 200


def test_serves_on_ipv6_loopback(store: KeyStore) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback")
    app = create_app(store, LicenseServerSettings())
    with LicenseServerThread(app, "::1", 0) as server:
        assert server.url.startswith("http://[::1]:")
        assert httpx.get(f"{server.url}/healthz", timeout=5).json()["status"] == "ok"


def test_server_thread_reports_a_busy_port(store: KeyStore) -> None:
    app = create_app(store, LicenseServerSettings())
    with LicenseServerThread(app, "127.0.0.1", 0) as first:
        second = LicenseServerThread(app, "127.0.0.1", first.port)
        with pytest.raises(OSError):
            second.start()
        second.stop()  # idempotent, nothing to stop


def test_one_structured_log_record_per_license_request(
    client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="drmkit.license_server.app")
    client.post("/clearkey/license", json=license_request(UNKNOWN))
    records = [r for r in caplog.records if r.getMessage() == "license request"]
    assert len(records) == 1
    record = records[0]
    assert (record.key_system, record.operation, record.outcome) == (  # type: ignore[attr-defined]
        "org.w3.clearkey",
        "license",
        "unknown_kids",
    )


def test_listening_socket_is_tcp_so_asyncio_sets_nodelay_on_connections() -> None:
    # asyncio turns TCP_NODELAY on only for sockets whose proto is IPPROTO_TCP; a socket made with
    # proto 0 answers every response after a Nagle / delayed-ACK stall.
    from drmkit.license_server.server import _bind

    sock = _bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        client = socket.create_connection(sock.getsockname()[:2])
        accepted, _ = sock.accept()
        with client, accepted:
            assert accepted.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
