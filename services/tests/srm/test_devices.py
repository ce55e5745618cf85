"""A session is bound to the device that set it up; the operator can end any session."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from drmkit.srm.auth import TokenTableVerifier
from drmkit.srm.errors import OtherDeviceError
from drmkit.srm.stores.base import Admitted, Identity, SessionStore

from .conftest import BODY, OPERATOR_TOKEN, Api, error_code, new_account, success_id


async def sessions(api: Api, account: str) -> dict[str, dict[str, str]]:
    response = await api.client.get(
        f"/srm/operator/accounts/{account}/sessions",
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
    )
    assert response.status_code == 200, response.text
    return {s["sessionId"]: s for s in response.json()["sessions"]}


@pytest.mark.parametrize("prefix", ["/srm", "/srm/v1"])
async def test_another_device_of_the_account_cannot_touch_the_session(
    api: Api, prefix: str
) -> None:
    account = new_account()
    tv = await api.token(account, "tv")
    phone = await api.token(account, "phone")
    sid = success_id(await api.setup(tv, prefix))
    before = (await sessions(api, account))[sid]

    for call in (api.keepalive, api.teardown):
        response = await call(phone, sid, prefix)
        assert response.status_code == 403, response.text
        assert error_code(response) == "SRM-0014"
        assert response.json()["errorResponse"]["errorMessage"] == (
            "Session belongs to another device"
        )
    assert (await sessions(api, account))[sid] == before  # neither extended nor ended

    assert (await api.keepalive(tv, sid, prefix)).status_code == 200
    assert (await api.teardown(tv, sid, prefix)).status_code == 200
    # Once it has ended, it is unknown to every device alike.
    for token in (tv, phone):
        gone = await api.keepalive(token, sid, prefix)
        assert gone.status_code == 404 and error_code(gone) == "SRM-0008"


async def test_the_binding_is_to_the_device_not_to_the_token(api: Api) -> None:
    account = new_account()
    first = await api.token(account, "tv")
    second = await TokenTableVerifier(api.store).issue(Identity(account, "tv"))  # a new token
    sid = success_id(await api.setup(first))
    assert (await api.keepalive(second, sid)).status_code == 200
    assert (await api.teardown(second, sid)).status_code == 200


async def test_the_operator_ends_any_devices_session(api: Api) -> None:
    account = new_account()
    tv = await api.token(account, "tv")
    sid = success_id(await api.setup(tv))
    response = await api.client.delete(
        f"/srm/operator/accounts/{account}/sessions/{sid}",
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
    )
    assert response.status_code == 200
    assert error_code(await api.keepalive(tv, sid)) == "SRM-0008"


async def test_other_accounts_sessions_stay_not_found(api: Api) -> None:
    """Across accounts the answer stays 404: no account learns that another's id exists."""
    sid = success_id(await api.setup(await api.token(new_account(), "tv")))
    stranger = await api.token(new_account(), "tv")
    for call in (api.keepalive, api.teardown):
        response = await call(stranger, sid)
        assert response.status_code == 404 and error_code(response) == "SRM-0008"


async def test_idempotency_keys_are_per_device(api: Api) -> None:
    account = new_account()

    async def setup(device: str) -> str:
        response = await api.client.post(
            "/srm/sessions",
            json=BODY,
            headers={"Client-Token": await api.token(account, device), "Idempotency-Key": "k"},
        )
        return success_id(response)

    on_tv = await setup("tv")
    on_phone = await setup("phone")  # the same key from another device is another setup
    assert on_phone != on_tv
    assert await setup("tv") == on_tv and await setup("phone") == on_phone
    assert await api.store.count_live(account) == 2


async def test_store_binding(store: SessionStore) -> None:
    me = Identity(new_account(), "tv")
    admitted = await store.admit(me, "c", "COD", 0, 30)
    assert isinstance(admitted, Admitted)
    sid = admitted.session_id
    with pytest.raises(OtherDeviceError):
        await store.keepalive(me.account, sid, "phone")
    with pytest.raises(OtherDeviceError):
        await store.teardown(me.account, sid, "phone")
    assert await store.count_live(me.account) == 1
    assert await store.keepalive(me.account, sid, "tv")
    assert await store.keepalive(me.account, sid)  # no device: any (the SRM's own callers)
    assert not await store.keepalive(me.account, uuid.uuid4(), "phone")  # unknown: not found
    assert not await store.keepalive(new_account(), sid, "phone")  # another account's
    assert await store.teardown(me.account, sid)  # no device: the operator's teardown
    assert not await store.teardown(me.account, sid, "phone")


async def test_an_expired_session_of_another_device_is_not_found(store: SessionStore) -> None:
    me = Identity(new_account(), "tv")
    admitted = await store.admit(me, "c", "COD", 0, 1)
    assert isinstance(admitted, Admitted)
    await asyncio.sleep(1.1)
    assert not await store.keepalive(me.account, admitted.session_id, "phone")
    assert not await store.teardown(me.account, admitted.session_id, "phone")
