"""``drmkit demo --key-system com.widevine.alpha``: the whole flow as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

DRMKIT = str(Path(sys.executable).with_name("drmkit"))


def test_demo_runs_the_full_widevine_flow(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRMKIT_", "XDG_"))}
    env["HOME"] = str(tmp_path)  # a fresh machine: nothing configured
    result = subprocess.run(
        [DRMKIT, "demo", "--key-system", "com.widevine.alpha", "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["key_system"] == "com.widevine.alpha"
    assert report["init_data_type"] == "cenc"
    assert report["license_url"].endswith("/refcdm/widevine/license")
    assert report["cdm_suggested_url"] == "http://widevine-proxy.appspot.com/proxy"
    assert report["key_statuses"] == [{"key_id": report["key_id"], "status": "USABLE"}]
    assert report["samples"]["verified"] == report["samples"]["count"] > 0
