"""The CLI with the PlayReady plugin, as real processes: ``drmkit demo`` and ``drmkit inspect``."""

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


def demo(home: Path, *args: str) -> tuple[int, dict[str, object]]:
    result = subprocess.run(
        [DRMKIT, "demo", *args, "--json"],
        env=fresh_env(home),
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.returncode, json.loads(result.stdout)


def test_demo_runs_the_netflix_dpi_flow_with_decrypt(tmp_path: Path) -> None:
    code, report = demo(tmp_path, "--key-system", "com.netflix.playready")
    assert code == 0, report
    assert report["ok"] is True
    names = [step["name"] for step in report["steps"]]  # type: ignore[union-attr]
    for expected in (
        "create DRM session (Netflix DPI)",
        "getChallengeData (blocking)",
        "storeLicenseData",
        "initDecryptContextByKid + decrypt",
        "close DRM session",
    ):
        assert expected in names
    assert report["license_url"].endswith("/refcdm/netflix/license")  # type: ignore[union-attr]
    assert report["cdm_suggested_url"] == ""
    assert report["key_statuses"] == [{"key_id": report["key_id"], "status": "USABLE"}]
    samples = report["samples"]
    assert isinstance(samples, dict) and samples["verified"] == samples["count"] > 0


def test_demo_netflix_wrong_key_is_caught_by_the_header_checksum(tmp_path: Path) -> None:
    code, report = demo(
        tmp_path, "--key-system", "com.netflix.playready", "--inject-fault", "wrong-key"
    )
    assert code == 1
    failed = [s for s in report["steps"] if s["outcome"] == "failed"]  # type: ignore[union-attr]
    assert failed[0]["name"] == "storeLicenseData"
    assert "CHECKSUM" in failed[0]["detail"]


def test_plugins_lists_one_plugin_per_key_system(tmp_path: Path) -> None:
    result = subprocess.run(
        [DRMKIT, "plugins", "--json"],
        env=fresh_env(tmp_path) | {"DRMKIT_PLUGINS__ENABLED": '["netflix"]'},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)["plugins"]}
    for name, key_system, enabled in (
        ("playready", "com.microsoft.playready", False),
        ("netflix", "com.netflix.playready", True),
    ):
        row = rows[name]
        assert row["distribution"] == "drmkit-playready-netflix"
        assert row["enabled"] is enabled
        assert [k["key_system"] for k in row["key_systems"]] == [key_system]
    assert "playready_netflix" not in rows


def test_inspect_shows_decoded_playready_headers(tmp_path: Path, drmkit_vectors_dir: Path) -> None:
    samples = json.loads((drmkit_vectors_dir / "initdata" / "initdata_samples.json").read_text())
    # Widevine and PlayReady boxes; the LA_URL holds an XML entity (shown unescaped).
    sample = next(s for s in samples if s["name"] == "wpt_mp4_basic_wv_pr")
    env = fresh_env(tmp_path) | {"DRMKIT_PLUGINS__ENABLED": '["playready", "netflix"]'}
    result = subprocess.run(
        [DRMKIT, "inspect", "--init-data", sample["base64"], "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    boxes = [b for b in json.loads(result.stdout)["pssh"] if b["decoded"]]
    decoded = next(b["decoded"] for b in boxes if b["decoded"].get("system") == "PlayReady")
    records = [r for box in _decoded(sample) for r in box["playready"]["records"]]
    assert decoded["key_ids"] == [k for r in records for k in r["kids_hex_cenc_order"]]
    header = decoded["headers"][0]
    assert header["version"] == records[0]["version"]
    assert header["kids"][0]["checksum"] == records[0]["CHECKSUM"]
    la_url = records[0].get("LA_URL")
    assert header["la_url"] == (la_url.replace("&amp;", "&") if la_url else None)


def _decoded(sample: dict[str, object]) -> list[dict[str, object]]:
    decoded = sample["decoded"]
    boxes = decoded if isinstance(decoded, list) else [decoded]
    return [b for b in boxes if isinstance(b, dict) and "playready" in b]  # type: ignore[misc]
