"""The SRM HTTP API against every store: setup, keep-alive, teardown, codes, bad input, operator."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from drmkit.srm.auth import JwtVerifier
from drmkit.srm.hookspecs import hookimpl
from drmkit.srm.plugin_manager import make_plugin_manager
from drmkit.srm.stores.base import SessionStore

from .conftest import (
    BODY,
    OPERATOR_TOKEN,
    Api,
    error_code,
    make_api,
    new_account,
    success_id,
)


@pytest.mark.parametrize("prefix", ["/srm", "/srm/v1"])
async def test_setup_keepalive_teardown(api: Api, prefix: str) -> None:
    token = await api.token(new_account())
    response = await api.setup(token, prefix)
    sid = success_id(response)
    assert uuid.UUID(sid).version == 4
    assert response.json()["successResponse"]["timeout"] == 30

    kept = await api.keepalive(token, sid, prefix)
    assert (kept.status_code, kept.content) == (200, b"")
    gone = await api.teardown(token, sid, prefix)
    assert (gone.status_code, gone.content) == (200, b"")

    again = await api.teardown(token, sid, prefix)
    assert again.status_code == 404 and error_code(again) == "SRM-0008"
    late = await api.keepalive(token, sid, prefix)
    assert late.status_code == 404 and error_code(late) == "SRM-0008"


async def test_limit_denial_is_http_200_and_teardown_frees_the_slot(api: Api) -> None:
    account = new_account()
    token = await api.token(account)
    first = success_id(await api.setup(token))
    success_id(await api.setup(token, "/srm/v1"))
    denied = await api.setup(token)
    assert denied.status_code == 200
    assert denied.json() == {
        "errorResponse": {
            "code": "200",
            "status": "DENIED",
            "errorCode": "SRM-0006",
            "errorMessage": "Session Limit Reached",
        }
    }
    assert await api.store.count_live(account) == 2
    assert (await api.teardown(token, first)).status_code == 200
    success_id(await api.setup(token))


async def test_devices_of_one_account_share_the_limit(api: Api) -> None:
    account = new_account()
    tv = await api.token(account, "tv")
    phone = await api.token(account, "phone")
    tablet = await api.token(account, "tablet")
    success_id(await api.setup(tv))
    success_id(await api.setup(phone))
    assert error_code(await api.setup(tablet)) == "SRM-0006"


async def test_accounts_do_not_interfere(api: Api) -> None:
    accounts = [new_account() for _ in range(10)]
    for account in accounts:
        await api.store.set_account_limit(account, 1)
    tokens = [await api.token(a) for a in accounts]
    responses = await asyncio.gather(*(api.setup(t) for t in tokens))
    assert all("successResponse" in r.json() for r in responses)


async def test_account_limits_and_unlimited(api: Api) -> None:
    one, unlimited = new_account(), new_account()
    await api.store.set_account_limit(one, 1)
    await api.store.set_account_limit(unlimited, 0)
    t1, tu = await api.token(one), await api.token(unlimited)
    success_id(await api.setup(t1))
    assert error_code(await api.setup(t1)) == "SRM-0006"
    for _ in range(6):
        success_id(await api.setup(tu))
    assert await api.store.get_account_limit(one) == 1
    await api.store.set_account_limit(one, None)
    assert await api.store.get_account_limit(one) is None
    success_id(await api.setup(t1))  # back to the default of 2


async def test_other_accounts_session_is_not_found_and_untouched(api: Api) -> None:
    owner = await api.token(new_account())
    intruder = await api.token(new_account())
    sid = success_id(await api.setup(owner))
    for call in (api.keepalive, api.teardown):
        response = await call(intruder, sid)
        assert response.status_code == 404 and error_code(response) == "SRM-0008"
    assert (await api.keepalive(owner, sid)).status_code == 200
    assert (await api.teardown(owner, sid)).status_code == 200


BAD_BODIES: list[tuple[str, Any]] = [
    ("not json", b"{not json"),
    ("empty", b""),
    ("array", b"[]"),
    ("null", b"null"),
    ("no content", b'{"x": 1}'),
    ("content not object", b'{"content": "abc"}'),
    ("missing contentType", b'{"content": {"contentID": "a"}}'),
    ("missing contentID", b'{"content": {"contentType": "COD"}}'),
    ("contentID number", b'{"content": {"contentID": 5, "contentType": "COD"}}'),
    ("contentType null", b'{"content": {"contentID": "a", "contentType": null}}'),
    ("empty contentID", b'{"content": {"contentID": "", "contentType": "COD"}}'),
    ("extra field", b'{"content": {"contentID": "a", "contentType": "COD", "x": 1}}'),
    ("huge id", b'{"content": {"contentID": "' + b"a" * 1000 + b'", "contentType": "COD"}}'),
    ("bad utf-8", b'{"content": {"contentID": "\xff\xfe", "contentType": "COD"}}'),
]


@pytest.mark.parametrize(("name", "raw"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
async def test_malformed_setup_is_400_without_state_change(
    sqlite_api: Api, name: str, raw: bytes
) -> None:
    account = new_account()
    token = await sqlite_api.token(account)
    response = await sqlite_api.client.post(
        "/srm/sessions",
        content=raw,
        headers={"Client-Token": token, "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert error_code(response) == "SRM-0002"
    assert await sqlite_api.store.count_live(account) == 0


async def test_huge_body_is_413(sqlite_api: Api) -> None:
    account = new_account()
    token = await sqlite_api.token(account)
    huge = b'{"content": {"contentID": "' + b"a" * 100_000 + b'", "contentType": "COD"}}'
    response = await sqlite_api.client.post(
        "/srm/sessions", content=huge, headers={"Client-Token": token}
    )
    assert response.status_code == 413 and error_code(response) == "SRM-0009"

    async def chunked() -> Any:
        for _ in range(100):
            yield b"a" * 1000

    streamed = await sqlite_api.client.post(
        "/srm/sessions", content=chunked(), headers={"Client-Token": token}
    )
    assert streamed.status_code == 413 and error_code(streamed) == "SRM-0009"
    assert await sqlite_api.store.count_live(account) == 0


@pytest.mark.parametrize("token", [None, "", "nope", "x" * 5000, "bearer abc"])
async def test_missing_or_invalid_token_is_401(sqlite_api: Api, token: str | None) -> None:
    headers = {} if token is None else {"Client-Token": token}
    for response in (
        await sqlite_api.client.post("/srm/sessions", json=BODY, headers=headers),
        await sqlite_api.client.put(f"/srm/sessions/{uuid.uuid4()}", headers=headers),
        await sqlite_api.client.delete(f"/srm/v1/sessions/{uuid.uuid4()}", headers=headers),
    ):
        assert response.status_code == 401, response.text
        assert error_code(response) == "SRM-0003"


async def test_revoked_token_is_401(api: Api) -> None:
    from drmkit.srm.auth import hash_token

    token = await api.token(new_account())
    assert await api.store.revoke_token(hash_token(token))
    assert error_code(await api.setup(token)) == "SRM-0003"
    assert not await api.store.revoke_token(hash_token(token))


@pytest.mark.parametrize("sid", ["nope", "1234", "zzzzzzzz-4c33-4c0e-ba52-6632e8810d3e", "%00"])
async def test_malformed_session_id_is_400(sqlite_api: Api, sid: str) -> None:
    token = await sqlite_api.token(new_account())
    for call in (sqlite_api.keepalive, sqlite_api.teardown):
        response = await call(token, sid)
        assert response.status_code == 400 and error_code(response) == "SRM-0002"


async def test_unknown_session_id_is_404(api: Api) -> None:
    token = await api.token(new_account())
    for call in (api.keepalive, api.teardown):
        response = await call(token, str(uuid.uuid4()))
        assert response.status_code == 404 and error_code(response) == "SRM-0008"


async def test_unknown_path_and_method(sqlite_api: Api) -> None:
    response = await sqlite_api.client.get("/srm/unknown")
    assert response.status_code == 404 and error_code(response) == "SRM-0001"
    response = await sqlite_api.client.patch("/srm/sessions")
    assert response.status_code == 405 and error_code(response) == "SRM-0005"


async def test_operator_lists_and_tears_down(api: Api) -> None:
    account = new_account()
    tv = await api.token(account, "tv")
    sid = success_id(await api.setup(tv))
    auth = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    listed = await api.client.get(f"/srm/operator/accounts/{account}/sessions", headers=auth)
    assert listed.status_code == 200
    body = listed.json()
    assert body["account"] == account and body["limit"] == 2
    (session,) = body["sessions"]
    assert session["sessionId"] == sid
    assert session["device"] == "tv"
    assert (session["contentID"], session["contentType"]) == ("100001V3D", "COD")
    assert session["created"] <= session["lastKeepAlive"] < session["expires"]

    torn = await api.client.delete(f"/srm/operator/accounts/{account}/sessions/{sid}", headers=auth)
    assert torn.status_code == 200
    late = await api.keepalive(tv, sid)
    assert late.status_code == 404 and error_code(late) == "SRM-0008"
    again = await api.client.delete(
        f"/srm/operator/accounts/{account}/sessions/{sid}", headers=auth
    )
    assert again.status_code == 404 and error_code(again) == "SRM-0008"
    listed = await api.client.get(f"/srm/operator/accounts/{account}/sessions", headers=auth)
    assert listed.json()["sessions"] == []


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic abc", "Bearer", OPERATOR_TOKEN])
async def test_operator_credential_is_checked(sqlite_api: Api, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = await sqlite_api.client.get("/srm/operator/accounts/a/sessions", headers=headers)
    assert response.status_code == 401 and error_code(response) == "SRM-0011"


async def test_client_token_is_not_an_operator_credential(sqlite_api: Api) -> None:
    account = new_account()
    token = await sqlite_api.token(account)
    sid = success_id(await sqlite_api.setup(token))
    response = await sqlite_api.client.delete(
        f"/srm/operator/accounts/{account}/sessions/{sid}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 401
    assert (await sqlite_api.keepalive(token, sid)).status_code == 200


async def test_operator_api_disabled_without_credential(sqlite_store: SessionStore) -> None:
    from drmkit.srm.app import create_app

    async with make_api(sqlite_store) as made:
        app = create_app(made.service, operator_token=None, manage_service=False)
        import httpx

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get(
                "/srm/operator/accounts/a/sessions", headers={"Authorization": "Bearer x"}
            )
    assert response.status_code == 403 and error_code(response) == "SRM-0012"


class BlockSome:
    """An operator's entitlement plugin: denies content ids starting with ``blocked``."""

    @hookimpl
    def srm_check_content_access(
        self, account: str, device: str, content_id: str, content_type: str
    ) -> bool | None:
        if content_id.startswith("boom"):
            raise RuntimeError("entitlement backend down")
        return False if content_id.startswith("blocked") else None


async def test_content_access_hook_denies_without_taking_a_slot(sqlite_store: SessionStore) -> None:
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(BlockSome())
    async with make_api(sqlite_store, plugin_manager=pm) as made:
        account = new_account()
        token = await made.token(account)
        blocked = {"content": {"contentID": "blocked-1", "contentType": "LIVE"}}
        response = await made.setup(token, body=blocked)
        assert response.status_code == 200
        assert response.json()["errorResponse"] == {
            "code": "200",
            "status": "DENIED",
            "errorCode": "SRM-0004",
            "errorMessage": "Content Access Denied",
        }
        broken = await made.setup(
            token, body={"content": {"contentID": "boom", "contentType": "x"}}
        )
        assert broken.status_code == 500 and error_code(broken) == "SRM-0007"
        assert await sqlite_store.count_live(account) == 0
        success_id(await made.setup(token))


def _ec_keys() -> tuple[str, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    priv_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    pub_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return priv_pem, pub_pem


@pytest.mark.parametrize("algorithm", ["HS256", "ES256"])
async def test_jwt_client_tokens(sqlite_store: SessionStore, algorithm: str) -> None:
    if algorithm == "HS256":
        signing = verifying = "a-shared-secret-of-at-least-32-bytes!"
    else:
        signing, verifying = _ec_keys()
    verifier = JwtVerifier(verifying, algorithms=[algorithm], leeway_s=0)
    account = new_account()
    now = int(time.time())

    def sign(claims: dict[str, Any], key: str = signing) -> str:
        return jwt.encode(claims, key, algorithm=algorithm)

    good = sign({"sub": account, "device": "tv", "exp": now + 60})
    async with make_api(sqlite_store, verifier=verifier, default_limit=1) as made:
        sid = success_id(await made.setup(good))
        assert (await made.keepalive(good, sid)).status_code == 200
        other_device = sign({"sub": account, "device": "phone", "exp": now + 60})
        assert error_code(await made.setup(other_device)) == "SRM-0006"

        other_key = (
            "another-secret-of-at-least-32-bytes!!" if algorithm == "HS256" else _ec_keys()[0]
        )
        bad = [
            sign({"sub": account, "device": "tv", "exp": now - 10}),  # expired
            sign({"sub": account, "device": "tv"}),  # no exp
            sign({"device": "tv", "exp": now + 60}),  # no account
            sign({"sub": account, "exp": now + 60}),  # no device
            sign({"sub": 5, "device": "tv", "exp": now + 60}),  # wrong type
            sign({"sub": account, "device": "tv", "exp": now + 60}, other_key),  # wrong key
            jwt.encode({"sub": account, "device": "tv", "exp": now + 60}, None, algorithm="none"),
            good[:-4] + "AAAA",  # tampered signature
        ]
        for token in bad:
            response = await made.setup(token)
            assert response.status_code == 401 and error_code(response) == "SRM-0003", token
        assert await sqlite_store.count_live(account) == 1


def test_jwt_verifier_refuses_bad_configuration() -> None:
    with pytest.raises(ValueError, match="none"):
        JwtVerifier("k", algorithms=["none"])
    with pytest.raises(ValueError, match="unknown"):
        JwtVerifier("k", algorithms=["XS999"])
    with pytest.raises(ValueError, match="ES256"):
        JwtVerifier("not a PEM key", algorithms=["ES256"])
    public_pem = _ec_keys()[1]
    with pytest.raises(ValueError, match="HS256"):  # key confusion: a public key as HMAC secret
        JwtVerifier(public_pem, algorithms=["ES256", "HS256"])


async def test_openapi_document_is_served(sqlite_api: Api) -> None:
    response = await sqlite_api.client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for prefix in ("/srm", "/srm/v1"):
        assert set(paths[f"{prefix}/sessions"]) == {"post"}
        assert set(paths[f"{prefix}/sessions/{{sessionId}}"]) == {"put", "delete"}
    assert "/srm/operator/accounts/{account}/sessions" in paths


async def test_idempotency_key_replays_the_live_session(api: Api) -> None:
    account = new_account()
    token = await api.token(account)

    async def setup(key: str) -> Any:
        return await api.client.post(
            "/srm/v1/sessions", json=BODY, headers={"Client-Token": token, "Idempotency-Key": key}
        )

    first = success_id(await setup("retry-1"))
    assert success_id(await setup("retry-1")) == first  # a retried setup: same session
    assert await api.store.count_live(account) == 1
    second = success_id(await setup("retry-2"))
    assert second != first
    assert error_code(await setup("retry-3")) == "SRM-0006"  # limit 2 reached
    assert success_id(await setup("retry-1")) == first  # replays are not denied
    # Another account's identical key is unrelated.
    other = await api.token(new_account())
    response = await api.client.post(
        "/srm/sessions", json=BODY, headers={"Client-Token": other, "Idempotency-Key": "retry-1"}
    )
    assert success_id(response) != first
    # Once the session is gone, the key admits a new one.
    assert (await api.teardown(token, first)).status_code == 200
    third = success_id(await setup("retry-1"))
    assert third not in (first, second)


async def test_concurrent_retries_with_one_key_take_one_slot(api: Api) -> None:
    account = new_account()
    token = await api.token(account)
    headers = {"Client-Token": token, "Idempotency-Key": "k"}
    responses = await asyncio.gather(
        *(api.client.post("/srm/sessions", json=BODY, headers=headers) for _ in range(20))
    )
    assert len({success_id(r) for r in responses}) == 1
    assert await api.store.count_live(account) == 1


@pytest.mark.parametrize("key", [b"", b"x" * 129, b"with space", b"tab\there", "é".encode()])
async def test_malformed_idempotency_key_is_400(sqlite_api: Api, key: bytes) -> None:
    account = new_account()
    token = await sqlite_api.token(account)
    response = await sqlite_api.client.post(
        "/srm/sessions",
        json=BODY,
        headers=[(b"Client-Token", token.encode()), (b"Idempotency-Key", key)],
    )
    assert response.status_code == 400 and error_code(response) == "SRM-0002"
    assert await sqlite_api.store.count_live(account) == 0


async def test_a_json_body_without_content_type_is_accepted(sqlite_api: Api) -> None:
    # The seed's clients send the setup body without a Content-Type: it is JSON all the same.
    account = new_account()
    token = await sqlite_api.token(account)
    raw = json.dumps(BODY).encode()
    response = await sqlite_api.client.post(
        "/srm/v1/sessions", content=raw, headers={"Client-Token": token}
    )
    assert "content-type" not in {k.lower() for k in response.request.headers}
    success_id(response)
    assert await sqlite_api.store.count_live(account) == 1


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"],
)
async def test_a_body_declared_as_another_type_is_refused(
    sqlite_api: Api, content_type: str
) -> None:
    account = new_account()
    token = await sqlite_api.token(account)
    response = await sqlite_api.client.post(
        "/srm/v1/sessions",
        content=json.dumps(BODY).encode(),
        headers={"Client-Token": token, "Content-Type": content_type},
    )
    assert response.status_code == 415, response.text
    assert error_code(response) == "SRM-0013"
    assert await sqlite_api.store.count_live(account) == 0
