"""The CLI with the Widevine plugin, as real processes: ``drmkit demo`` and ``drmkit inspect``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

DRMKIT = str(Path(sys.executable).with_name("drmkit"))


def fresh_env(home: Path) -> dict[str, str]:
    """A fresh machine: nothing configured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRMKIT_", "XDG_"))}
    env["HOME"] = str(home)
    return env


def test_demo_runs_the_full_widevine_flow(tmp_path: Path) -> None:
    result = subprocess.run(
        [DRMKIT, "demo", "--key-system", "com.widevine.alpha", "--json"],
        env=fresh_env(tmp_path),
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


def test_inspect_shows_decoded_widevine_pssh_data(tmp_path: Path, drmkit_vectors_dir: Path) -> None:
    samples = json.loads((drmkit_vectors_dir / "initdata" / "initdata_samples.json").read_text())
    sample = next(s for s in samples if s["name"] == "shaka_dash_clearkey_wv")
    env = fresh_env(tmp_path) | {"DRMKIT_PLUGINS__ENABLED": '["widevine"]'}
    result = subprocess.run(
        [DRMKIT, "inspect", "--init-data", sample["base64"], "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (box,) = json.loads(result.stdout)["pssh"]
    decoded = box["decoded"]
    assert decoded["system"] == "Widevine"
    assert decoded["key_ids"] == ["4060a865887842679cbf91ae5bae1e72"]
    assert decoded["repeated_key_ids"] == 2
    assert decoded["protection_scheme"] == "cenc"
