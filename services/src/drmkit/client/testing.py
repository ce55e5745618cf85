"""A session server in a child process for tests (``drmkit serve``), and its test control.

Also the pytest plugin ``drmkit_ipc`` (entry point of group ``pytest11``): the fixtures the
conformance kit takes with ``--drmkit-transport=ipc``, so that the suite runs through
:class:`drmkit.client.MediaKeysClient` against a real ``drmkit serve`` process:
``drmkit_session_server`` (one server per test session), ``drmkit_ipc_connect`` (a client of it)
and ``drmkit_ipc_test_control`` (the reference CDM's test control inside the server).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from drmkit.ipc.blocking import call_blocking
from drmkit.ipc.jsonrpc import RpcError

if TYPE_CHECKING:
    from drmkit.client import MediaKeysClient

START_TIMEOUT_S = 20.0
IPC_CALL_TIMEOUT_S = 15.0
"""Client call timeout with ``--drmkit-transport=ipc`` (the suite injects 3 s CDM delays)."""


class ServerProcess:
    """``drmkit serve`` in a child process with its sockets in ``directory``."""

    def __init__(
        self,
        directory: Path,
        *,
        plugins: list[str] | None = None,
        ocdm_library: str | None = None,
        extra_args: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.directory = directory
        self.socket_path = directory / "session.sock"
        self.control_path = directory / "session.sock.control"
        self.log_path = directory / "server.log"
        self._plugins = plugins
        self._ocdm_library = ocdm_library
        self._extra_args = list(extra_args or [])
        self._env = dict(env or {})
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        """Return the command line that starts the server."""
        return [
            sys.executable,
            "-m",
            "drmkit.cli.serve_cmd",
            "--socket",
            str(self.socket_path),
            "--test-control",
            *self._extra_args,
        ]

    def environment(self) -> dict[str, str]:
        """Return the server's environment: state under ``directory``, quiet logs."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DRMKIT_")}
        env["DRMKIT_STATE_DIR"] = str(self.directory / "state")
        env["DRMKIT_LOGGING__LEVEL"] = "WARNING"
        env["DRMKIT_LOGGING__FORMAT"] = "json"
        if self._plugins is not None:
            env["DRMKIT_PLUGINS__ENABLED"] = json.dumps(self._plugins)
        if self._ocdm_library:
            env["DRMKIT_HAL__LIBRARY_PATH"] = self._ocdm_library
        env.update(self._env)
        return env

    def start(self) -> ServerProcess:
        """Start the server and wait until its control socket answers."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(), env=self.environment(), stdout=log, stderr=log
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"drmkit serve exited with {self.process.returncode}:\n{self.log()}"
                )
            with contextlib.suppress(OSError):
                self.control("get_state")
                return self
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(
                    f"drmkit serve did not start within {START_TIMEOUT_S} s:\n{self.log()}"
                )
            time.sleep(0.05)

    def log(self) -> str:
        """Return the server's output so far (for failure messages)."""
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def control(
        self, method: str, params: dict[str, Any] | None = None, timeout: float = 10.0
    ) -> Any:
        """Call a control-socket method (blocking)."""
        return call_blocking(self.control_path, method, params, timeout=timeout)

    def stats(self) -> dict[str, Any]:
        """Return the server's counters."""
        return dict(self.control("stats"))

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the server and wait for it (SIGKILL after ``timeout``).

        Error lines the server logged are echoed to standard error (pytest shows them with a
        failing test).
        """
        process = self.process
        if process is None:
            return None
        if process.poll() not in (None, 0):
            print(f"drmkit serve had exited with {process.returncode}", file=sys.stderr)
        errors = [
            line
            for line in self.log().splitlines()
            if '"level": "error"' in line or '"level": "warning"' in line
        ]
        if errors:
            print("\n".join(["drmkit serve logged warnings or errors:", *errors]), file=sys.stderr)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def kill(self) -> None:
        """SIGKILL the server (a crash, as far as clients can tell)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class RemoteTestControl:
    """The reference CDM test control of a session server, shaped like the HAL's."""

    is_reference = True

    def __init__(self, control_path: Path) -> None:
        self.control_path = control_path

    def test_control(self, command: dict[str, object]) -> dict[str, object]:
        """Send one test-control command to the server's CDM."""
        try:
            return dict(
                call_blocking(self.control_path, "test_control", {"command": dict(command)})
            )
        except RpcError as exc:
            raise RuntimeError(f"test control failed: {exc.message}") from None


# ---- pytest plugin ``drmkit_ipc`` -------------------------------------------------------------


@pytest.fixture(scope="session")
def drmkit_session_server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    drmkit_plugins: list[str],
) -> Iterator[ServerProcess]:
    """Start one ``drmkit serve`` process (with test control) for the test session."""
    server = ServerProcess(
        tmp_path_factory.mktemp("drmkit-server"),
        plugins=list(drmkit_plugins),
        ocdm_library=request.config.getoption("--drmkit-ocdm-library"),
    )
    with server:
        yield server


@pytest.fixture
def drmkit_ipc_connect(
    drmkit_session_server: ServerProcess,
) -> Callable[[], Awaitable[MediaKeysClient]]:
    """Return ``connect()``: a new client of the session's server (the caller closes it)."""

    async def connect() -> MediaKeysClient:
        from drmkit.client import MediaKeysClient

        return await MediaKeysClient.connect(
            drmkit_session_server.socket_path,
            call_timeout=IPC_CALL_TIMEOUT_S,
            control_socket_path=drmkit_session_server.control_path,
        )

    return connect


@pytest.fixture
def drmkit_ipc_test_control(drmkit_session_server: ServerProcess) -> RemoteTestControl:
    """Return the test control of the reference CDM inside the session's server."""
    return RemoteTestControl(drmkit_session_server.control_path)


# ---- raw protocol access -----------------------------------------------------------------------


class RawConnection:
    """A raw JSON-RPC connection for protocol tests: frames by hand, no client library."""

    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self._ids = 0

    def send_bytes(self, payload: bytes) -> None:
        """Send ``payload`` as one length-prefixed frame."""
        self.sock.sendall(struct.pack(">I", len(payload)) + payload)

    def send(self, message: Any) -> None:
        """Send ``message`` as JSON in one frame."""
        self.send_bytes(json.dumps(message).encode())

    def recv(self) -> dict[str, Any] | None:
        """Receive one frame as JSON (``None`` when the server closed the connection)."""
        header = self._exactly(4)
        if header is None:
            return None
        (size,) = struct.unpack(">I", header)
        body = self._exactly(size)
        assert body is not None
        return json.loads(body)  # type: ignore[no-any-return]

    def _exactly(self, size: int) -> bytes | None:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call ``method``; return its reply (notifications before it are skipped)."""
        self._ids += 1
        self.send({"jsonrpc": "2.0", "id": self._ids, "method": method, "params": params or {}})
        while True:
            reply = self.recv()
            assert reply is not None, "connection closed"
            if reply.get("id") == self._ids:
                return reply

    def close(self) -> None:
        """Close the connection."""
        self.sock.close()
