"""``drmkit serve`` as a process: socket permissions, in-use and stale sockets, signals."""

from __future__ import annotations

import signal
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

from drmkit.client.testing import ServerProcess


def _run_second_server(socket_dir: Path, socket_path: Path) -> subprocess.CompletedProcess[bytes]:
    second = ServerProcess(socket_dir / "second", plugins=["clearkey"])
    second.directory.mkdir()
    command = second.command()
    command[command.index("--socket") + 1] = str(socket_path)
    return subprocess.run(
        command, env=second.environment(), capture_output=True, timeout=60, check=False
    )


def test_private_sockets_refused_when_in_use_removed_on_sigterm(
    start_server: Callable[..., ServerProcess], socket_dir: Path
) -> None:
    server = start_server()
    for path in (server.socket_path, server.control_path):
        mode = path.lstat().st_mode
        assert stat.S_ISSOCK(mode)
        assert stat.S_IMODE(mode) == 0o600
    result = _run_second_server(socket_dir, server.socket_path)
    assert result.returncode == 1
    assert b"already listening" in result.stderr
    assert server.control("get_state") == {"state": "active"}  # the live one is untouched
    assert server.stop() == 0
    assert not server.socket_path.exists()
    assert not server.control_path.exists()


def test_mode_and_initial_state_configurable_sigint_removes_sockets(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server("--state", "inactive", env={"DRMKIT_SERVER__SOCKET_MODE": "432"})
    assert stat.S_IMODE(server.socket_path.lstat().st_mode) == 0o660
    assert server.control("get_state") == {"state": "inactive"}
    assert server.process is not None
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(10) == 0
    assert not server.socket_path.exists()
    assert not server.control_path.exists()


def test_refuses_a_path_that_is_not_a_socket(socket_dir: Path) -> None:
    target = socket_dir / "precious.txt"
    target.write_text("precious")
    result = _run_second_server(socket_dir, target)
    assert result.returncode == 1
    assert b"not a socket" in result.stderr
    assert target.read_text() == "precious"
