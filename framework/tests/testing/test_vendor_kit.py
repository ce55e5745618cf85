"""The conformance kit as a vendor runs it: from their own repository, with the documented command.

A throwaway plugin distribution (``vendor_example``) is installed from a temporary directory, the
way a vendor's CI installs its package, and the kit runs against it with nothing but the command
the plugin guide gives: no conftest, no pytest configuration. Its good plugin passes; its broken
twin, whose every operation fails, must fail the kit rather than pass by errors being swallowed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

VENDOR_SOURCE = Path(__file__).parent / "vendor_example"


@pytest.fixture(scope="module")
def vendor_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Return (the vendor's checkout, the directory its package was installed into)."""
    root = tmp_path_factory.mktemp("vendor")
    checkout = root / "drmkit-vendor-example"
    shutil.copytree(VENDOR_SOURCE, checkout)
    site = root / "site"
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is required to install the vendor package (it installs drmkit itself)")
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--python",
            sys.executable,
            "--target",
            str(site),
            str(checkout),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return checkout, site


def _run_kit(vendor_repo: tuple[Path, Path], plugin: str) -> subprocess.CompletedProcess[str]:
    checkout, site = vendor_repo
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            "drmkit.testing.conformance",
            "--drmkit-keysystem=org.w3.clearkey",
            f"--drmkit-plugins={plugin}",
            "-q",
            "-p",
            "no:randomly",
            "-rfE",
        ],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _counts(output: str) -> dict[str, int]:
    summary = output.strip().splitlines()[-1]
    return {
        word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|errors?|skipped)", summary)
    }


def test_a_vendor_plugin_passes_the_kit_from_its_own_repository(
    vendor_repo: tuple[Path, Path],
) -> None:
    result = _run_kit(vendor_repo, "vendor_example")
    counts = _counts(result.stdout)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert counts.get("passed", 0) >= 40, result.stdout[-2000:]
    assert not counts.get("failed") and not counts.get("error") and not counts.get("errors")


def test_a_plugin_failing_every_operation_fails_the_kit(vendor_repo: tuple[Path, Path]) -> None:
    result = _run_kit(vendor_repo, "vendor_broken")
    assert result.returncode == 1, result.stdout[-4000:]
    failed = set(re.findall(r"^(?:FAILED|ERROR) \S+::(\w+)", result.stdout, re.MULTILINE))
    # The tests that used to swallow the errors they judge.
    for judged in (
        "test_store_and_maintenance_queries_answer",
        "test_set_drm_header_and_select_key_id_are_legal",
        "test_remove_then_release",
    ):
        assert judged in failed, sorted(failed)
    counts = _counts(result.stdout)
    assert counts.get("passed", 0) < 15, result.stdout[-3000:]
