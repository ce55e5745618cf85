"""``drmkit demo`` on Thunder's OCDM with random keys: every run passes, on the real library."""

from __future__ import annotations

import os

from platform_support import drmkit_json

RUNS = int(os.environ.get("DRMKIT_REAL_STACK_DEMO_RUNS", "50"))


def test_demo_passes_every_time_with_random_keys(stack_env: dict[str, str]) -> None:
    failures: list[str] = []
    key_ids: set[object] = set()
    for run in range(RUNS):
        report = drmkit_json(stack_env, "demo")
        cdm = report.get("cdm")
        assert isinstance(cdm, dict), report
        assert cdm["profile"] == "ocdm-clearkey-r5.3", cdm  # really Thunder's OCDM-Clearkey
        key_ids.add(report["key_id"])
        if not report["ok"]:
            failures.append(f"run {run}: {report['error']}")
    assert not failures, failures
    assert len(key_ids) == RUNS  # a fresh random key id (and key) every run
