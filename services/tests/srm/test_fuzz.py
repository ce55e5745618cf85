"""Fuzz the SRM API from its own OpenAPI document (schemathesis, bounded).

A real server (uvicorn on a socket, SQLite store) answers positive and negative examples; every
answer must be a non-5xx, documented status whose body matches the documented schema.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
import uvicorn
from drmkit.srm.app import create_app
from drmkit.srm.auth import TokenTableVerifier
from drmkit.srm.devservers import free_port
from drmkit.srm.plugin_manager import make_plugin_manager
from drmkit.srm.service import SrmService
from drmkit.srm.stores.base import Identity
from drmkit.srm.stores.sqlite import SqliteStore
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import OPERATOR_TOKEN


def _service(path: Path) -> SrmService:
    store = SqliteStore(path)
    return SrmService(
        store,
        TokenTableVerifier(store),
        make_plugin_manager(load_entry_points=False),
        default_limit=3,
        timeout_s=30,
        sweep_interval_s=60,
    )


# The document is the app's own; building it needs no open store.
schema = schemathesis.openapi.from_dict(
    create_app(_service(Path("unused.sqlite3")), operator_token="x").openapi()
)


class LiveServer:
    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    path = tmp_path_factory.mktemp("srm-fuzz") / "srm.sqlite3"

    async def issue() -> str:
        store = SqliteStore(path)
        await store.open()
        try:
            return await TokenTableVerifier(store).issue(Identity("fuzz-account", "fuzz-device"))
        finally:
            await store.close()

    token = asyncio.run(issue())
    port = free_port()
    app = create_app(_service(path), operator_token=OPERATOR_TOKEN, max_body_bytes=4096)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "fuzz server did not start"
        time.sleep(0.02)
    yield LiveServer(f"http://127.0.0.1:{port}", token)
    server.should_exit = True
    thread.join(10)


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_api_conforms_to_its_openapi_document(
    case: schemathesis.Case, live_server: LiveServer
) -> None:
    # Half of the cases carry valid credentials so the fuzzer reaches past authentication.
    digest = hashlib.sha256(repr((case.path, case.path_parameters, case.body)).encode()).digest()
    if digest[0] % 2 == 0:
        headers = dict(case.headers or {})
        headers["Client-Token"] = live_server.token
        headers["Authorization"] = f"Bearer {OPERATOR_TOKEN}"
        case.headers = headers
    case.call_and_validate(
        base_url=live_server.base_url,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
        timeout=10,
    )
