"""External tools the tests use (ffmpeg, shaka-packager).

A missing tool skips the test locally and fails it in CI, where ``scripts/install-system-deps``
installs them.
"""

from __future__ import annotations

import os
import shutil
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
