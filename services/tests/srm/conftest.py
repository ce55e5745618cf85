"""SRM test fixtures: real Redis/PostgreSQL servers, stores, in-process and subprocess APIs."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from drmkit.srm.app import create_app
from drmkit.srm.auth import TokenTableVerifier
from drmkit.srm.devservers import (
    PostgresServer,
    RedisServer,
    ServerUnavailableError,
    free_port,
)
from drmkit.srm.plugin_manager import make_plugin_manager
from drmkit.srm.service import SrmService
from drmkit.srm.stores import open_store
from drmkit.srm.stores.base import Identity, SessionStore

STORE_KINDS = ["sqlite", "redis", "postgres"]
BODY = {"content": {"contentID": "100001V3D", "contentType": "COD"}}
OPERATOR_TOKEN = "operator-secret"


def _unavailable(exc: Exception) -> None:
    # In CI a missing server is a broken job, never a silent skip.
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"required server unavailable in CI: {exc}")
    pytest.skip(str(exc))


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    try:
        server = RedisServer()
        server.start()
    except ServerUnavailableError as exc:
        _unavailable(exc)
    yield server
    server.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer()
        server.start()
    except (ServerUnavailableError, subprocess.CalledProcessError) as exc:
        _unavailable(exc)
    yield server
    server.close()


def store_url_for(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'srm.sqlite3'}"
    if kind == "redis":
        return str(request.getfixturevalue("redis_server").url)
    return str(request.getfixturevalue("postgres_server").url)


@pytest.fixture(params=STORE_KINDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_url_for(request.param, request, tmp_path)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[SessionStore]:
    # Generous time-outs: a loaded CI machine must not turn slow answers into 503s here (the
    # outage tests set their own short ones).
    opened = open_store(store_url, pool_size=20, timeout_s=20)
    await opened.open()
    yield opened
    await opened.close()


def new_account() -> str:
    """Tests share the servers; a fresh account per test keeps them independent."""
    return f"acct-{uuid.uuid4().hex[:12]}"


@dataclass
class Api:
    """An SRM app in process (real store), its HTTP client and a token factory."""

    service: SrmService
    client: httpx.AsyncClient
    store: SessionStore
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    async def token(self, account: str, device: str = "device-1") -> str:
        key = (account, device)
        if key not in self.tokens:
            self.tokens[key] = await TokenTableVerifier(self.store).issue(Identity(account, device))
        return self.tokens[key]

    async def setup(self, token: str, prefix: str = "/srm", body: Any = None) -> httpx.Response:
        return await self.client.post(
            f"{prefix}/sessions",
            json=BODY if body is None else body,
            headers={"Client-Token": token},
        )

    async def keepalive(self, token: str, sid: str, prefix: str = "/srm") -> httpx.Response:
        return await self.client.put(f"{prefix}/sessions/{sid}", headers={"Client-Token": token})

    async def teardown(self, token: str, sid: str, prefix: str = "/srm") -> httpx.Response:
        return await self.client.delete(f"{prefix}/sessions/{sid}", headers={"Client-Token": token})


@contextlib.asynccontextmanager
async def make_api(
    store: SessionStore,
    *,
    default_limit: int = 2,
    timeout_s: int = 30,
    plugin_manager: Any = None,
    verifier: Any = None,
    sweep_interval_s: float = 60.0,
    store_timeout_s: float = 20.0,
) -> AsyncIterator[Api]:
    service = SrmService(
        store,
        verifier or TokenTableVerifier(store),
        plugin_manager or make_plugin_manager(load_entry_points=False),
        default_limit=default_limit,
        timeout_s=timeout_s,
        sweep_interval_s=sweep_interval_s,
        store_timeout_s=store_timeout_s,
    )
    # The store is opened by its fixture; only the sweeper is started here.
    service.start_sweeper()
    app = create_app(service, operator_token=OPERATOR_TOKEN, manage_service=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://srm.test") as client:
        try:
            yield Api(service=service, client=client, store=store)
        finally:
            await service.stop_sweeper()
            await service.drain(timeout_s=10)


@pytest.fixture
async def api(store: SessionStore) -> AsyncIterator[Api]:
    async with make_api(store) as made:
        yield made


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SessionStore]:
    """For behaviour above the store (HTTP parsing, auth, hooks): SQLite only."""
    opened = open_store(f"sqlite:///{tmp_path / 'srm.sqlite3'}")
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
async def sqlite_api(sqlite_store: SessionStore) -> AsyncIterator[Api]:
    async with make_api(sqlite_store) as made:
        yield made


def success_id(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "successResponse" in body, body
    return str(body["successResponse"]["sessionId"])


def error_code(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"errorResponse"}, body
    err = body["errorResponse"]
    assert err["code"] == str(response.status_code)
    return str(err["errorCode"])


# -- real `drmkit srm serve` processes ---------------------------------------------------------


def drmkit_executable() -> str:
    candidate = Path(sys.executable).parent / "drmkit"
    return str(candidate) if candidate.exists() else "drmkit"


@dataclass
class ServerProcess:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_srm_server(
    store_url: str, state_dir: Path, *, port: int | None = None, **settings: Any
) -> ServerProcess:
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRMKIT_")}
    env.update(
        {
            "DRMKIT_STATE_DIR": str(state_dir),
            "DRMKIT_SRM__STORE_URL": store_url,
            "DRMKIT_SRM__OPERATOR_TOKEN": OPERATOR_TOKEN,
        }
    )
    for key, value in settings.items():
        env[f"DRMKIT_SRM__{key.upper()}"] = str(value)
    log_path = state_dir / f"srm-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [drmkit_executable(), "srm", "serve", "--port", str(port)],
            env=env,
            cwd=state_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = ServerProcess(port=port, process=process, log_path=log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"srm serve exited: {log_path.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return server
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"srm serve did not listen: {log_path.read_text()}")
