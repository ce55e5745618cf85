"""The license server's Widevine endpoint over real HTTP: request, renewal and release messages.

The endpoint is the one the plugin declares (``drm_test_license_endpoints``).

The application posts the bare message it received (the OCDM prefix already stripped); the server
answers requests and renewals with test licenses the reference CDM accepts, and refuses to license
a release message.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from drmkit.config import PluginSettings
from drmkit.core import KeyStatus, KeyStatusesChanged, LicenseRenewal, MediaKeys, MessageType
from drmkit.keysystems.manager import DrmPluginManager
from drmkit.license_server import KeyStore, LicenseServerThread, create_app
from drmkit.license_server.config import LicenseServerSettings
from drmkit.testing.flows import new_keys, next_event
from drmkit.testing.refcdm import RefCdmControl
from drmkit_widevine.initdata import make_widevine_pssh

PATH = "/refcdm/widevine/license"


@pytest.fixture
def keys() -> dict[bytes, bytes]:
    return new_keys(2)


def test_the_plugin_declares_its_endpoint() -> None:
    endpoints = DrmPluginManager(PluginSettings(enabled=["widevine"])).test_license_endpoints()
    assert [(e.path, e.key_system, e.key_systems) for e in endpoints] == [
        (PATH, "com.widevine.alpha", {"com.widevine.alpha"})
    ]


@pytest.fixture
def http(tmp_path: Path, keys: dict[bytes, bytes]) -> Iterator[httpx.Client]:
    store = KeyStore(tmp_path / "keys.sqlite3")
    for kid, key in keys.items():
        store.add(kid, key, label="widevine test")
    plugins = DrmPluginManager(PluginSettings(enabled=["widevine"]))
    endpoints = plugins.test_license_endpoints()
    app = create_app(store, LicenseServerSettings(), test_endpoints=endpoints)
    with (
        LicenseServerThread(app, "127.0.0.1", 0) as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        yield client


async def test_request_renewal_and_release_through_the_license_server(
    media_keys: MediaKeys, keys: dict[bytes, bytes], http: httpx.Client, refcdm: RefCdmControl
) -> None:
    session = await media_keys.create_session()
    events = session.events()
    await session.generate_request("cenc", make_widevine_pssh(list(keys)))
    request = await next_event(events)
    response = http.post(PATH, content=request.message)
    assert response.status_code == 200, response.text
    await session.update(response.content)
    event = await next_event(events, KeyStatusesChanged)
    assert isinstance(event, KeyStatusesChanged)
    assert dict(event.key_statuses) == {kid: KeyStatus.USABLE for kid in keys}

    refcdm.renewal(await session.get_cdm_key_session_id())
    renewal = await next_event(events, LicenseRenewal)
    assert isinstance(renewal, LicenseRenewal)
    assert renewal.message_type is MessageType.LICENSE_RENEWAL
    response = http.post(PATH, content=renewal.message)
    assert response.status_code == 200, response.text
    await session.update(response.content)
    event = await next_event(events, KeyStatusesChanged)
    assert isinstance(event, KeyStatusesChanged)
    assert dict(event.key_statuses) == {kid: KeyStatus.USABLE for kid in keys}

    await session.remove()
    release = await next_event(events, LicenseRenewal)
    assert isinstance(release, LicenseRenewal)
    assert release.message_type is MessageType.LICENSE_RELEASE
    refused = http.post(PATH, content=release.message)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "unsupported_message_type"


async def test_unknown_key_ids_get_404_and_the_session_waits(
    media_keys: MediaKeys, http: httpx.Client
) -> None:
    session = await media_keys.create_session()
    events = session.events()
    await session.generate_request("cenc", make_widevine_pssh([os.urandom(16)]))
    request = await next_event(events)
    response = http.post(PATH, content=request.message)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_kids"
