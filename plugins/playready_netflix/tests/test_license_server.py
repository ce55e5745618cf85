"""The license server's PlayReady and Netflix endpoints over real HTTP, against the reference CDM.

The endpoints are the ones the two plugins declare (``drm_test_license_endpoints``). Requests, LDL
requests and renewals are answered with test licenses the simulations accept; a challenge for the
other endpoint's key system, or for key ids the server does not hold, is refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from drmkit.config import PluginSettings
from drmkit.core import KeyStatus, KeyStatusesChanged, LicenseRenewal, MediaKeys
from drmkit.core.factory import MediaKeysFactory
from drmkit.keysystems.manager import DrmPluginManager
from drmkit.license_server import KeyStore, LicenseServerThread, create_app
from drmkit.license_server.config import LicenseServerSettings
from drmkit.testing.flows import new_keys, next_event
from drmkit.testing.refcdm import RefCdmControl
from drmkit.types import LimitedDurationLicense
from drmkit_playready_netflix.license_helper import NetflixLicenseHelper, PlayReadyLicenseHelper

PATHS = {
    "com.microsoft.playready": "/refcdm/playready/license",
    "com.netflix.playready": "/refcdm/netflix/license",
}
HELPERS = {
    "com.microsoft.playready": PlayReadyLicenseHelper(),
    "com.netflix.playready": NetflixLicenseHelper(),
}


@pytest.fixture
def keys() -> dict[bytes, bytes]:
    return new_keys(2)


def test_each_plugin_declares_its_endpoint(drmkit_plugins: list[str]) -> None:
    endpoints = DrmPluginManager(PluginSettings(enabled=drmkit_plugins)).test_license_endpoints()
    declared = {e.path: (e.key_system, e.key_systems) for e in endpoints}
    assert declared == {
        "/refcdm/netflix/license": ("com.netflix.playready", {"com.netflix.playready"}),
        "/refcdm/playready/license": (
            "com.microsoft.playready",
            {"com.microsoft.playready", "com.youtube.playready"},
        ),
    }


@pytest.fixture
def http(
    tmp_path: Path, keys: dict[bytes, bytes], drmkit_plugins: list[str]
) -> Iterator[httpx.Client]:
    store = KeyStore(tmp_path / "keys.sqlite3")
    for kid, key in keys.items():
        store.add(kid, key, label="playready test")
    plugins = DrmPluginManager(PluginSettings(enabled=drmkit_plugins))
    endpoints = plugins.test_license_endpoints()
    app = create_app(store, LicenseServerSettings(), test_endpoints=endpoints)
    with (
        LicenseServerThread(app, "127.0.0.1", 0) as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        yield client


@pytest.fixture(params=sorted(PATHS))
async def any_media_keys(
    request: pytest.FixtureRequest, media_keys_factory: MediaKeysFactory
) -> AsyncIterator[MediaKeys]:
    media_keys = await media_keys_factory.create_media_keys(request.param)
    try:
        yield media_keys
    finally:
        await media_keys.destroy()


async def test_requests_and_renewals_through_the_license_server(
    any_media_keys: MediaKeys,
    keys: dict[bytes, bytes],
    http: httpx.Client,
    refcdm: RefCdmControl,
) -> None:
    key_system = any_media_keys.key_system
    path = PATHS[key_system]
    other = next(p for p in PATHS.values() if p != path)
    helper = HELPERS[key_system]
    session = await any_media_keys.create_session()
    events = session.events()
    ldl = (
        LimitedDurationLicense.ENABLED
        if key_system == "com.netflix.playready"
        else LimitedDurationLicense.NOT_SPECIFIED
    )
    await session.generate_request("drmheader", helper.header(list(keys), keys), ldl)
    request = await next_event(events)
    refused = http.post(other, content=request.message)
    assert refused.status_code == 400 and key_system in refused.text
    response = http.post(path, content=request.message)
    assert response.status_code == 200, response.text
    await session.update(response.content)
    event = await next_event(events, KeyStatusesChanged)
    assert isinstance(event, KeyStatusesChanged)
    assert dict(event.key_statuses) == dict.fromkeys(keys, KeyStatus.USABLE)

    refcdm.renewal(await session.get_cdm_key_session_id())
    renewal = await next_event(events, LicenseRenewal)
    assert isinstance(renewal, LicenseRenewal)
    response = http.post(path, content=renewal.message)
    assert response.status_code == 200, response.text
    await session.update(response.content)
    await next_event(events, KeyStatusesChanged)


async def test_unknown_key_ids_are_refused(any_media_keys: MediaKeys, http: httpx.Client) -> None:
    helper = HELPERS[any_media_keys.key_system]
    session = await any_media_keys.create_session()
    events = session.events()
    await session.generate_request("drmheader", helper.header(list(new_keys())))
    request = await next_event(events)
    response = http.post(PATHS[any_media_keys.key_system], content=request.message)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_kids"
