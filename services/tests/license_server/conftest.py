from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from drmkit.config import PluginSettings
from drmkit.keysystems.manager import build_installed_plugin_manager
from drmkit.license_server import KeyStore, LicenseServerThread, create_app
from drmkit.license_server.config import LicenseServerSettings
from drmkit.sdk import TestLicenseEndpoint

KID_A = bytes.fromhex("00112233445566778899aabbccddeeff")
KEY_A = bytes.fromhex("0f0e0d0c0b0a09080706050403020100")
KID_B = bytes.fromhex("ad13f9ea2be698b875f504a8e3ccea64")
KEY_B = bytes.fromhex("b2e7e6a5c7a2b4d6f0e1c3a5b7d9f1e3")


@pytest.fixture
def store(tmp_path: Path) -> KeyStore:
    store = KeyStore(tmp_path / "keys.sqlite3")
    store.add(KID_A, KEY_A, label="a")
    store.add(KID_B, KEY_B, label="b")
    return store


ServeFactory = Callable[..., AbstractContextManager[httpx.Client]]


@pytest.fixture(scope="session")
def plugin_endpoints() -> list[TestLicenseEndpoint]:
    """The test-license endpoints of every installed plugin, as the container collects them."""
    return build_installed_plugin_manager(PluginSettings()).test_license_endpoints()


@pytest.fixture
def serve(store: KeyStore, plugin_endpoints: list[TestLicenseEndpoint]) -> ServeFactory:
    """Start the real app on uvicorn on a free loopback port; yield an httpx client for it.

    The app has Clear Key's routes and those of the installed plugins (the reference CDM's
    Widevine, PlayReady and Netflix simulations in the workspace).
    """

    @contextmanager
    def factory(**overrides: Any) -> Iterator[httpx.Client]:
        settings = LicenseServerSettings(**overrides)
        app = create_app(store, settings, test_endpoints=plugin_endpoints)
        with (
            LicenseServerThread(app, "127.0.0.1", 0) as server,
            httpx.Client(base_url=server.url, timeout=10) as client,
        ):
            yield client

    return factory


@pytest.fixture
def client(serve: ServeFactory) -> Iterator[httpx.Client]:
    with serve() as client:
        yield client
