"""``drmkit demo`` as a real process, its failure paths, and the pieces it is made of."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from drmkit.core import Subsample
from drmkit.demo import Step, StepOutcome, run_steps
from drmkit.demo.samples import encrypt_cenc, make_samples

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


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A fresh machine: nothing configured, an empty home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRMKIT_", "XDG_"))}
    env["HOME"] = str(tmp_path / "home")
    env["COLUMNS"] = "160"
    return env


def run_demo(
    env: dict[str, str], *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DRMKIT, "demo", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def demo_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_demo_json_passes_on_a_fresh_machine(env: dict[str, str], tmp_path: Path) -> None:
    result = run_demo(env, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = demo_json(result)
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


def test_demo_human_report(env: dict[str, str]) -> None:
    result = run_demo(env)
    assert result.returncode == 0, result.stdout + result.stderr
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
    result = run_demo(env, "--json", "--inject-fault", fault)
    assert result.returncode == 1, result.stdout + result.stderr
    report = demo_json(result)
    assert report["ok"] is False
    assert report["error"]["step"] == failed_step
    assert message in report["error"]["message"]
    outcomes = {s["name"]: s["outcome"] for s in report["steps"]}
    assert outcomes[failed_step] == "failed"
    later = MAIN_STEPS[MAIN_STEPS.index(failed_step) + 1 :]
    assert all(outcomes[name] == "skipped" for name in later)
    # Cleanup always runs and succeeds: no leaked session, server or temporary state.
    assert all(outcomes[name] == "ok" for name in CLEANUP_STEPS)


def test_demo_refuses_a_key_system_that_is_not_enabled(env: dict[str, str]) -> None:
    result = run_demo(env, "--key-system", "com.example.nothing")
    assert result.returncode == 2
    assert "'com.example.nothing' is not enabled" in result.stderr
    assert "org.w3.clearkey" in result.stderr  # names what is enabled
    assert "Traceback" not in result.stderr


def test_demo_uses_a_configured_key_store_and_leaves_it_as_it_was(
    env: dict[str, str], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    env["DRMKIT_STATE_DIR"] = str(state)
    env["DRMKIT_LICENSE_SERVER__TOKEN"] = "demo-token"  # the demo authenticates to its server
    result = run_demo(env, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    store = state / "license-server" / "keys.sqlite3"
    assert str(store) in demo_json(result)["steps"][0]["detail"]
    listed = subprocess.run(
        [DRMKIT, "keys", "list", "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert json.loads(listed.stdout) == []


def test_demo_rejects_an_unknown_fault_name(env: dict[str, str]) -> None:
    result = run_demo(env, "--inject-fault", "gremlins")
    assert result.returncode == 2
    assert "unknown fault 'gremlins'" in result.stderr


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
