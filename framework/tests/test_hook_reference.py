"""docs/hooks.md is generated from the hookspecs and must not be stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import drmkit.hookspecs as hookspecs

REPO = Path(__file__).resolve().parents[2]


def test_hook_reference_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "hook_reference.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_hook_reference_documents_every_hook() -> None:
    page = (REPO / "docs" / "hooks.md").read_text()
    hooks = [name for name in vars(hookspecs) if name.startswith("drm_")]
    assert len(hooks) > 20
    for name in hooks:
        assert f"### `{name}`" in page, name
