"""``drmkit keys`` and ``drmkit license-server`` as real processes."""

from __future__ import annotations

import importlib
import json
import logging
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import structlog
from drmkit.cli import _register_commands, app
from drmkit.keysystems.loader import installed_entry_points
from drmkit.license_server import KeyStore
from drmkit.license_server.keyids import b64url_encode
from typer.testing import CliRunner, Result

DRMKIT = str(Path(sys.executable).with_name("drmkit"))
KID = "fb8f5f0b-4c8e-4c2b-9f7a-1d2e3c4b5a69"
KID_HEX = KID.replace("-", "")
KEY_B64 = b64url_encode(bytes.fromhex("00112233445566778899aabbccddeeff"))


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """In-process commands configure logging; put the test process's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A clean environment for both in-process runs and real processes."""
    for name in list(os.environ):
        if name.startswith("DRMKIT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DRMKIT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    return dict(os.environ)


def drmkit(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed ``drmkit`` console script as a real process."""
    return subprocess.run([DRMKIT, *args], env=env, capture_output=True, text=True, timeout=60)


def cli(*args: str) -> Result:
    """Run a command in this process (same code path as the console script, faster)."""
    _register_commands()
    return CliRunner().invoke(app, list(args))


def test_keys_add_and_list_as_real_processes(env: dict[str, str], tmp_path: Path) -> None:
    added = drmkit(env, "keys", "add", KID, KEY_B64, "--label", "movie")
    assert added.returncode == 0, added.stderr
    assert KID_HEX in added.stdout
    assert (tmp_path / "state" / "license-server" / "keys.sqlite3").is_file()
    listed = drmkit(env, "keys", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [entry] = json.loads(listed.stdout)
    assert (entry["kid"], entry["key"], entry["label"]) == (
        KID_HEX,
        "00112233445566778899aabbccddeeff",
        "movie",
    )


def test_keys_add_list_remove_round_trip(env: dict[str, str]) -> None:
    added = cli("keys", "add", KID, KEY_B64, "--label", "movie")
    assert added.exit_code == 0, added.output
    [entry] = json.loads(cli("keys", "list", "--json").stdout)
    assert entry["kid"] == KID_HEX and entry["kid_b64url"] == b64url_encode(bytes.fromhex(KID_HEX))

    table = cli("keys", "list")
    assert table.exit_code == 0
    assert KID_HEX in table.stdout
    assert "00112233445566778899aabbccddeeff" not in table.stdout  # the table hides keys

    duplicate = cli("keys", "add", KID_HEX, KEY_B64)
    assert duplicate.exit_code == 1
    assert "already stored" in duplicate.stderr and "--replace" in duplicate.stderr
    replaced = cli("keys", "add", KID_HEX, "ff" * 16, "--replace")
    assert replaced.exit_code == 0, replaced.output
    assert json.loads(cli("keys", "list", "--json").stdout)[0]["key"] == "ff" * 16

    # "--" ends the options: this base64url id starts with "-".
    removed = cli("keys", "remove", "--", b64url_encode(bytes.fromhex(KID_HEX)))
    assert removed.exit_code == 0, removed.output
    again = cli("keys", "remove", KID_HEX)
    assert again.exit_code == 1
    assert "no key is stored" in again.stderr
    assert json.loads(cli("keys", "list", "--json").stdout) == []


@pytest.mark.parametrize(
    ("kid", "key", "message"),
    [
        ("abc", KEY_B64, "key id 'abc' is neither"),
        (KID, "00" * 15, "key '" + "00" * 15 + "' is neither"),
        (KID, "00" * 17, "is neither"),
    ],
)
def test_keys_add_validates_16_bytes(env: dict[str, str], kid: str, key: str, message: str) -> None:
    result = cli("keys", "add", kid, key)
    assert result.exit_code == 2
    assert message in result.stderr.replace("\n", "")


def test_keys_generate_stores_a_random_key(env: dict[str, str]) -> None:
    generated = cli("keys", "generate", "--json", "--label", "g")
    assert generated.exit_code == 0, generated.output
    made = json.loads(generated.stdout)
    [entry] = json.loads(cli("keys", "list", "--json").stdout)
    assert (entry["kid"], entry["key"], entry["label"]) == (made["kid"], made["key"], "g")


def test_missing_config_file_is_a_clear_error(env: dict[str, str], tmp_path: Path) -> None:
    env["DRMKIT_CONFIG"] = str(tmp_path / "absent.toml")
    result = drmkit(env, "keys", "list")
    assert result.returncode == 2
    assert "DRMKIT_CONFIG" in result.stderr and "absent.toml" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_setting_is_a_clear_error(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRMKIT_LICENSE_SERVER__MAX_BODY_BYTES", "many")
    result = cli("keys", "list")
    assert result.exit_code == 2
    assert "invalid configuration" in result.stderr and "max_body_bytes" in result.stderr


def test_unusable_key_store_is_a_clear_error(env: dict[str, str], tmp_path: Path) -> None:
    store = tmp_path / "state" / "license-server" / "keys.sqlite3"
    store.parent.mkdir(parents=True)
    store.write_bytes(b"garbage" * 200)
    result = cli("keys", "list")
    assert result.exit_code == 2
    assert "not a usable key store" in result.stderr


def _read_listening_url(process: subprocess.Popen[str], timeout_s: float = 30) -> str:
    assert process.stderr is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stderr, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout_s
    seen: list[str] = []
    while time.monotonic() < deadline:
        if not selector.select(timeout=0.5):
            if process.poll() is not None:
                break
            continue
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # e.g. a warning printed by a library at import time
        if isinstance(record, dict) and record.get("event") == "license server listening":
            return str(record["url"])
    raise AssertionError(f"the license server did not report its URL: {''.join(seen)}")


def test_license_server_process_serves_and_stops_on_sigterm(env: dict[str, str]) -> None:
    store = KeyStore(Path(env["DRMKIT_STATE_DIR"]) / "license-server" / "keys.sqlite3")
    store.add(bytes.fromhex(KID_HEX), bytes.fromhex("00112233445566778899aabbccddeeff"))
    env["DRMKIT_LOGGING__FORMAT"] = "json"
    env["DRMKIT_LICENSE_SERVER__TOKEN"] = "tok"
    process = subprocess.Popen(
        [DRMKIT, "license-server", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = _read_listening_url(process)
        assert url.startswith("http://127.0.0.1:")
        body = {"kids": [b64url_encode(bytes.fromhex(KID_HEX))], "type": "temporary"}
        response = httpx.post(
            f"{url}/clearkey/license", json=body, headers={"Authorization": "Bearer tok"}
        )
        assert response.status_code == 200
        assert response.json()["keys"][0]["k"] == KEY_B64
        if "widevine" in installed_entry_points():
            # An installed plugin's test endpoint is served though only Clear Key is enabled.
            refused = httpx.post(
                f"{url}/refcdm/widevine/license",
                content=b"not json",
                headers={"Authorization": "Bearer tok"},
            )
            assert refused.status_code == 400, refused.text
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal so the exit status tells why.
        assert process.wait(timeout=20) in (0, -signal.SIGTERM)
        assert process.stderr is not None
        assert "Finished server process" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_license_server_reports_a_busy_port(env: dict[str, str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = cli("license-server", "--port", str(port))
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_license_server_names_an_installed_plugin_that_fails_to_import(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    info = site / "drmkit_broken-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: drmkit-broken\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[drmkit.keysystems]\nbroken = drmkit_broken_ls\n")
    (site / "drmkit_broken_ls.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    result = cli("license-server", "--port", "0")
    assert result.exit_code == 2
    assert "'broken'" in result.stderr and "boom at import" in result.stderr
