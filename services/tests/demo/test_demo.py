"""``drmkit demo`` as a real process, its failure paths, and the pieces it is made of."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from drmkit.cli import _register_commands, app
from drmkit.core import Subsample
from drmkit.demo import Step, StepOutcome, run_steps
from drmkit.demo.samples import encrypt_cenc, make_samples
from drmkit.license_server import KeyStore
from typer.testing import CliRunner, Result

DRMKIT = str(Path(sys.executable).with_name("drmkit"))
MAIN_STEPS = [
    "start license server",
    "store a random content key",
    "encrypt samples (independent AES)",
    "create MediaKeys",
    "create key session",
    "generate license request",
    "fetch license over HTTP",
    "update session with license",
    "decrypt samples through the CDM",
    "verify samples byte for byte",
    "decrypt a real MP4 (FFmpeg cenc)",
]
CLEANUP_STEPS = ["close and release session", "destroy MediaKeys", "stop license server"]


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """In-process runs configure logging; put the test process's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh machine: nothing configured, an empty home (for this process and children)."""
    for name in list(os.environ):
        if name.startswith(("DRMKIT_", "XDG_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "160")
    monkeypatch.chdir(tmp_path)
    return dict(os.environ)


def run_demo(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed ``drmkit demo`` as a real process."""
    return subprocess.run(
        [DRMKIT, "demo", *args], env=env, capture_output=True, text=True, timeout=120
    )


def demo_in_process(*args: str) -> Result:
    """Run ``drmkit demo`` in this process (the command's own code, without process start-up)."""
    _register_commands()
    return CliRunner().invoke(app, ["demo", *args])


def test_demo_json_passes_on_a_fresh_machine(env: dict[str, str], tmp_path: Path) -> None:
    result = run_demo(env, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["ok"] is True and report["error"] is None
    assert [s["name"] for s in report["steps"]] == MAIN_STEPS + CLEANUP_STEPS
    assert all(s["outcome"] == "ok" for s in report["steps"])
    assert report["key_system"] == "org.w3.clearkey"
    assert report["init_data_type"] == "keyids"
    assert report["license_url"].startswith("http://127.0.0.1:")
    assert report["license_url"].endswith("/clearkey/license")
    assert report["key_statuses"] == [{"key_id": report["key_id"], "status": "USABLE"}]
    samples = report["samples"]
    assert samples["count"] == samples["decrypted"] == samples["verified"] == 8
    # Nothing left behind: the demo's state lived in a temporary directory.
    assert not (tmp_path / "home" / ".local" / "state" / "drmkit").exists()


def test_demo_failure_exits_non_zero_as_a_real_process(env: dict[str, str]) -> None:
    result = run_demo(env, "--json", "--inject-fault", "wrong-key")
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["error"]["step"] == "verify samples byte for byte"


def test_demo_human_report(env: dict[str, str]) -> None:
    result = demo_in_process()
    assert result.exit_code == 0, result.output
    assert "✓ verify samples byte for byte" in result.stdout
    assert "USABLE" in result.stdout
    assert "demo passed" in result.stdout
    assert "✗" not in result.stdout


@pytest.mark.parametrize(
    ("fault", "failed_step", "message"),
    [
        ("wrong-key", "verify samples byte for byte", "8 of 8 samples differ"),
        ("unknown-kid", "fetch license over HTTP", "404"),
        ("cdm-decrypt-error", "decrypt samples through the CDM", "decrypt"),
    ],
)
def test_demo_fails_with_exit_1_when_something_breaks(
    env: dict[str, str], fault: str, failed_step: str, message: str
) -> None:
    result = demo_in_process("--json", "--inject-fault", fault)
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["fault"] == fault
    assert report["error"]["step"] == failed_step
    assert message in report["error"]["message"]
    outcomes = {s["name"]: s["outcome"] for s in report["steps"]}
    assert outcomes[failed_step] == "failed"
    later = MAIN_STEPS[MAIN_STEPS.index(failed_step) + 1 :]
    assert all(outcomes[name] == "skipped" for name in later)
    # Cleanup always runs and succeeds: no leaked session, server or temporary state.
    assert all(outcomes[name] == "ok" for name in CLEANUP_STEPS)


def test_demo_refuses_a_key_system_that_is_not_enabled(env: dict[str, str]) -> None:
    result = demo_in_process("--key-system", "com.example.nothing")
    assert result.exit_code == 2
    assert "'com.example.nothing' is not enabled" in result.stderr
    assert "org.w3.clearkey" in result.stderr  # names what is enabled
    assert "[plugins]" in " ".join(result.stderr.split())  # printed, not eaten as markup


def test_demo_rejects_an_unknown_fault_name(env: dict[str, str]) -> None:
    result = demo_in_process("--inject-fault", "gremlins")
    assert result.exit_code == 2
    assert "unknown fault 'gremlins'" in result.stderr


def test_demo_uses_a_configured_state_dir_and_leaves_its_key_store_as_it_was(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("DRMKIT_STATE_DIR", str(state))
    monkeypatch.setenv("DRMKIT_LICENSE_SERVER__TOKEN", "demo-token")  # the demo authenticates
    result = demo_in_process("--json")
    assert result.exit_code == 0, result.output
    store = state / "license-server" / "keys.sqlite3"
    assert str(store) in json.loads(result.stdout)["steps"][0]["detail"]
    assert KeyStore(store).entries() == []


def test_demo_leaves_a_configured_db_path_as_it_was(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = KeyStore(tmp_path / "mine.sqlite3")
    store.add(bytes(16), bytes(range(16)), label="precious")
    monkeypatch.setenv("DRMKIT_LICENSE_SERVER__DB_PATH", str(store.path))
    result = demo_in_process("--json", "--inject-fault", "wrong-key")
    assert result.exit_code == 1, result.output
    assert [(e.kid, e.label) for e in store.entries()] == [(bytes(16), "precious")]


# ----------------------------------------------------------------------------- building blocks


def test_cenc_keystream_runs_across_subsamples_and_carries_partial_blocks() -> None:
    key, iv = bytes(range(16)), bytes.fromhex("0102030405060708")
    clear = os.urandom(5 + 21 + 3 + 40)
    subsamples = (Subsample(5, 21), Subsample(3, 40))
    encrypted = encrypt_cenc(clear, key, iv, subsamples)
    # Reference: one CTR stream over the concatenated protected bytes.
    stream = Cipher(algorithms.AES(key), modes.CTR(iv + bytes(8))).encryptor()
    protected = stream.update(clear[5:26] + clear[29:]) + stream.finalize()
    assert encrypted[:5] == clear[:5] and encrypted[26:29] == clear[26:29]
    assert encrypted[5:26] + encrypted[29:] == protected


def test_cenc_rejects_bad_ivs_and_maps() -> None:
    with pytest.raises(ValueError, match="IV"):
        encrypt_cenc(b"x" * 16, bytes(16), b"short")
    with pytest.raises(ValueError, match="cover"):
        encrypt_cenc(b"x" * 16, bytes(16), bytes(8), (Subsample(1, 1),))


def test_samples_mix_whole_and_subsample_encryption_and_both_iv_sizes() -> None:
    samples = make_samples(bytes(16), 8, seed=7)
    assert any(not s.subsamples for s in samples) and any(s.subsamples for s in samples)
    assert {len(s.iv) for s in samples} == {8, 16}
    assert all(s.encrypted != s.clear for s in samples)


async def test_runner_skips_after_a_failure_but_runs_cleanup() -> None:
    calls: list[str] = []

    async def ok(ctx: list[str]) -> str:
        ctx.append("ok")
        return "fine"

    async def boom(ctx: list[str]) -> str:
        raise RuntimeError("broken\nsecond line")

    steps = [
        Step("first", ok),
        Step("second", boom),
        Step("third", ok),
        Step("cleanup", ok, cleanup=True),
    ]
    seen: list[str] = []
    result = await run_steps(steps, calls, lambda r: seen.append(r.name))
    assert [r.outcome for r in result.steps] == [
        StepOutcome.OK,
        StepOutcome.FAILED,
        StepOutcome.SKIPPED,
        StepOutcome.OK,
    ]
    assert result.steps[1].detail == "RuntimeError: broken"
    assert calls == ["ok", "ok"] and seen == ["first", "second", "third", "cleanup"]
    assert not result.ok and result.first_failure is result.steps[1]


@pytest.mark.parametrize(
    ("plugin", "key_system", "init_data_type", "path"),
    [
        ("widevine", "com.widevine.alpha", "cenc", "/refcdm/widevine/license"),
        ("playready", "com.microsoft.playready", "cenc", "/refcdm/playready/license"),
        ("netflix", "com.netflix.playready", "drmheader", "/refcdm/netflix/license"),
    ],
)
def test_demo_runs_the_simulated_key_systems_when_their_plugins_are_enabled(
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    plugin: str,
    key_system: str,
    init_data_type: str,
    path: str,
) -> None:
    from importlib.metadata import entry_points

    if not any(ep.name == plugin for ep in entry_points(group="drmkit.keysystems")):
        pytest.skip(f"the {plugin} plugin is not installed")
    monkeypatch.setenv("DRMKIT_PLUGINS__ENABLED", json.dumps(["clearkey", plugin]))
    result = demo_in_process("--json", "--key-system", key_system)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["init_data_type"] == init_data_type
    assert report["license_url"].endswith(path)
    assert report["key_statuses"] == [{"key_id": report["key_id"], "status": "USABLE"}]
    assert report["samples"]["verified"] == 8
