"""docs/srm.md documents every error code exactly as the API sends it."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest
from drmkit.srm.errors import SrmErrorCode

from .conftest import drmkit_executable, start_srm_server

DOC = Path(__file__).resolve().parents[3] / "docs" / "srm.md"


@pytest.mark.parametrize("code", list(SrmErrorCode), ids=lambda c: c.spec.error_code)
def test_every_error_code_is_documented(code: SrmErrorCode) -> None:
    spec = code.spec
    row = f"| {spec.error_code} | {spec.http_status} | {spec.status} | {spec.message} |"
    assert row in DOC.read_text(), row


def test_the_quick_start_runs_as_written(tmp_path: Path) -> None:
    """The quick start's commands, run as the doc writes them, admit a session."""
    text = DOC.read_text()
    block = text[text.index("```sh") + len("```sh") : text.index("```", text.index("```sh") + 5)]
    lines = block.strip().splitlines()
    add = next(line for line in lines if line.startswith("drmkit srm tokens add"))
    curl = " ".join(
        line.rstrip("\\").strip()
        for line in lines[next(i for i, line in enumerate(lines) if line.startswith("curl")) :]
        if not line.startswith("#")
    )
    store_url = f"sqlite:///{tmp_path / 'srm.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRMKIT_")}
    env |= {"DRMKIT_STATE_DIR": str(tmp_path), "DRMKIT_SRM__STORE_URL": store_url}
    drmkit = drmkit_executable()
    token = subprocess.run(
        [drmkit, *shlex.split(add.split("#")[0])[1:]],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    server = start_srm_server(store_url, tmp_path)
    try:
        command = curl.replace("localhost:8470", f"127.0.0.1:{server.port}")
        result = subprocess.run(
            ["sh", "-c", command],
            env=env | {"TOKEN": token},
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
    finally:
        server.stop()
    assert json.loads(result.stdout)["successResponse"]["timeout"] == 30, result.stdout
