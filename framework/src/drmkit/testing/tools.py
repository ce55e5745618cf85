"""External tools the tests use (ffmpeg, shaka-packager).

A missing tool skips the test locally and fails it in CI, where ``scripts/install-system-deps``
installs them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[4]
"""The source checkout (``tools/`` holds the npm-installed tools)."""


def in_ci() -> bool:
    """Tell whether this runs in CI, where a missing tool is a failure, not a skip."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, what: str) -> None:
    """Skip locally (fail in CI) when ``condition`` is false."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"{what} not available")


def tool(name: str) -> str:
    """Path of an external tool (``ffmpeg``, ``packager``): skip locally, fail in CI, if missing."""
    if name == "packager":
        bundled = REPO_ROOT / "tools" / "node_modules"
        candidates = [
            os.environ.get("DRMKIT_PACKAGER", ""),
            str(bundled / ".bin" / "packager"),
            str(bundled / "shaka-packager" / "bin" / "packager-linux-x64"),
            shutil.which("packager") or "",
        ]
        found = next((c for c in candidates if c and os.access(c, os.X_OK)), None)
    else:
        found = shutil.which(name)
    require(found is not None, f"{name} (run scripts/install-system-deps)")
    assert found is not None
    return found


# A lean launcher: a process's peak RSS (ru_maxrss) starts at the RSS of whatever it was exec'd
# from, so children of a large test or benchmark process would report the parent's memory.
_LAUNCHER = """
import os, sys
fd = int(sys.argv[1])
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
os.write(fd, f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}".encode())
"""


@dataclass(frozen=True)
class Measured:
    """A finished command: exit code, standard output and peak resident memory."""

    returncode: int
    stdout: bytes
    peak_rss_mb: float


def run_measured(cmd: list[str], timeout: float = 600) -> Measured:
    """Run ``cmd`` and return its exit code, output and own peak RSS (not inherited)."""
    read_end, write_end = os.pipe()
    try:
        with tempfile.TemporaryFile() as out:
            child = subprocess.Popen(
                [sys.executable, "-S", "-c", _LAUNCHER, str(write_end), *cmd],
                stdout=out,
                stderr=subprocess.DEVNULL,
                pass_fds=(write_end,),
            )
            os.close(write_end)
            write_end = -1
            child.wait(timeout)
            report = os.read(read_end, 64).decode().split()
            out.seek(0)
            output = out.read()
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)
    if len(report) != 2:
        raise RuntimeError(f"could not run {cmd[0]}")
    return Measured(int(report[0]), output, int(report[1]) / 1024)
