"""Helpers of the real-stack tests: running ``drmkit`` commands with a given environment."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

STACK_VARIABLES = ("OPEN_CDM_SERVER", "DRMKIT_HAL__LIBRARY_PATH", "DRMKIT_HAL__LIBRARY_SEARCH_PATH")
DRMKIT = str(Path(sys.executable).with_name("drmkit"))


def drmkit(
    env: Mapping[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the ``drmkit`` command with ``env``."""
    return subprocess.run(
        [DRMKIT, *args], env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
    )


def drmkit_json(env: Mapping[str, str], *args: str) -> dict[str, object]:
    """Run ``drmkit ... --json`` and return its JSON output (whatever the exit status)."""
    result = drmkit(env, *args, "--json")
    try:
        document: dict[str, object] = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise AssertionError(
            f"no JSON from drmkit {args}: {result.stdout}{result.stderr}"
        ) from None
    return document
