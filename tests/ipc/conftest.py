"""Cross-package IPC tests: the conformance suite through drmkit.client against drmkit serve."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from drmkit.client.testing import ServerProcess


@pytest.fixture
def drmkit_key_system(request: pytest.FixtureRequest) -> str:
    """Clear Key unless ``--drmkit-keysystem`` names another key system."""
    return str(request.config.getoption("--drmkit-keysystem") or "org.w3.clearkey")


@pytest.fixture
def drmkit_transport() -> str:
    """Always through the client and a real session server process."""
    return "ipc"


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    """A short directory for sockets (Unix socket paths are limited to 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="dkipc-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def start_server(socket_dir: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start ``drmkit serve`` processes with extra options; all are stopped after the test."""
    started: list[ServerProcess] = []

    def start(*args: str, name: str = "a", env: dict[str, str] | None = None) -> ServerProcess:
        server = ServerProcess(
            socket_dir / name, plugins=["clearkey"], extra_args=list(args), env=env
        )
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture(scope="session")
def shared_server() -> Iterator[ServerProcess]:
    """One ``drmkit serve`` (test control, metrics on a Unix socket) for the whole IPC run.

    Tests that share it wait for its counters to be idle before taking a baseline.
    """
    directory = Path(tempfile.mkdtemp(prefix="dkipc-"))
    server = ServerProcess(
        directory / "m",
        plugins=["clearkey"],
        extra_args=["--metrics", f"unix:{directory / 'metrics.sock'}"],
        env={"DRMKIT_SERVER__MAX_IN_FLIGHT": "16", "DRMKIT_SERVER__MAX_MEDIA_KEYS": "64"},
    )
    try:
        with server:
            yield server
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def module_server(shared_server: ServerProcess) -> ServerProcess:
    """The shared server (tests that need another configuration start their own)."""
    return shared_server


@pytest.fixture(scope="session")
def drmkit_session_server(shared_server: ServerProcess) -> ServerProcess:
    """The conformance kit's server is the shared one too (one start for the whole run)."""
    return shared_server
