"""Throwaway Redis and PostgreSQL servers for the SRM's tests and benchmarks.

Each server runs from the Debian packages' binaries on a private free loopback port with a
temporary data directory, and can be stopped and started again on the same port and data (to
test outages and restarts). PostgreSQL refuses to run as root, so as root the server runs as the
``postgres`` system user (created by the Debian package).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from drmkit.errors import DrmkitError


class ServerUnavailableError(DrmkitError, RuntimeError):
    """The server's binaries are not installed or the server did not come up."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, deadline_s: float, process: subprocess.Popen[bytes]) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if process.poll() is not None:
            raise ServerUnavailableError(f"server on port {port} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise ServerUnavailableError(f"server on port {port} did not listen within {deadline_s}s")


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


class RedisServer:
    """A ``redis-server`` with persistence off, on its own port."""

    def __init__(self, binary: str | None = None) -> None:
        found = binary or shutil.which("redis-server")
        if found is None:
            raise ServerUnavailableError("redis-server is not installed")
        self.binary = found
        self.port = free_port()
        self.data_dir = Path(tempfile.mkdtemp(prefix="drmkit-redis-"))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start (or restart) the server and wait until it accepts connections."""
        if self._process is not None and self._process.poll() is None:
            return
        self._process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.data_dir),
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, 10, self._process)

    def stop(self) -> None:
        """Stop the server (its in-memory data is lost)."""
        _stop(self._process)
        self._process = None

    def close(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _postgres_bin_dir() -> Path:
    explicit = os.environ.get("DRMKIT_PG_BIN")
    candidates = [explicit] if explicit else sorted(glob.glob("/usr/lib/postgresql/*/bin"))[::-1]
    for candidate in candidates:
        if candidate and (Path(candidate) / "postgres").is_file():
            return Path(candidate)
    on_path = shutil.which("postgres")
    if on_path:
        return Path(on_path).parent
    raise ServerUnavailableError("PostgreSQL server binaries (postgres, initdb) are not installed")


class PostgresServer:
    """A PostgreSQL cluster in a temporary directory, trust auth on 127.0.0.1 only."""

    def __init__(self) -> None:
        self.bin_dir = _postgres_bin_dir()
        self.port = free_port()
        self.base_dir = Path(tempfile.mkdtemp(prefix="drmkit-pg-"))
        self.data_dir = self.base_dir / "data"
        self._user: str | None = None
        if os.geteuid() == 0:
            # The server refuses root; run it as the package's system user.
            self._user = "postgres"
            shutil.chown(self.base_dir, user="postgres")
        self._process: subprocess.Popen[bytes] | None = None
        subprocess.run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            user=self._user,
            group=self._user,
            extra_groups=[] if self._user else None,
        )

    @property
    def url(self) -> str:
        """``postgresql://postgres@127.0.0.1:<port>/postgres``."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """Start (or restart) the server and wait until it accepts connections."""
        if self._process is not None and self._process.poll() is None:
            return
        self._process = subprocess.Popen(
            [
                str(self.bin_dir / "postgres"),
                "-D",
                str(self.data_dir),
                "-p",
                str(self.port),
                "-k",
                str(self.base_dir),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=self._user,
            group=self._user,
            extra_groups=[] if self._user else None,
        )
        _wait_for_port(self.port, 30, self._process)
        self._wait_ready()

    def _wait_ready(self) -> None:
        end = time.monotonic() + 30
        while time.monotonic() < end:
            ready = subprocess.run(
                [str(self.bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise ServerUnavailableError(f"PostgreSQL on port {self.port} did not become ready")

    def stop(self) -> None:
        """Stop the server (fast shutdown; data stays on disk)."""
        if self._process is not None and self._process.poll() is None:
            # SIGINT = fast shutdown: disconnect clients, checkpoint, exit.
            self._process.send_signal(2)
            try:
                self._process.wait(15)
            except subprocess.TimeoutExpired:
                _stop(self._process)
        self._process = None

    def close(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        shutil.rmtree(self.base_dir, ignore_errors=True)
