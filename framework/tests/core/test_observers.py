"""The metrics and logging observers see every routed call through one shared wrapper."""

from __future__ import annotations

import base64
import logging
import os
import re
import threading

import pytest
from drmkit.core import MediaKeys
from drmkit.errors import InvalidLicenseError
from drmkit.keysystems.metrics import BUCKETS, MetricsPlugin
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


async def test_one_wrapper_feeds_metrics_and_logging(
    media_keys: MediaKeys, caplog: pytest.LogCaptureFixture
) -> None:
    plugins = media_keys._factory._plugins
    wrappers = [i for i in media_keys._route.hook_caller("drm_update_session").get_hookimpls()
                if i.wrapper]  # fmt: skip
    assert len(wrappers) == 1
    registry = plugins.registry

    def failed_updates() -> float:
        value = registry.get_sample_value(
            "drmkit_operations_total",
            {"key_system": media_keys.key_system, "operation": "update_session",
             "outcome": "fail"},
        )  # fmt: skip
        return value or 0.0

    before = failed_updates()
    session = await media_keys.create_session()
    kid = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=")
    await session.generate_request("keyids", b'{"kids":["' + kid + b'"]}')
    with (
        caplog.at_level(logging.INFO, logger="drmkit.operations"),
        pytest.raises(InvalidLicenseError),
    ):
        await session.update(b"not a license")
    assert failed_updates() == before + 1
    messages = [r.getMessage() for r in caplog.records if r.name == "drmkit.operations"]
    assert any("update_session -> fail" in m for m in messages)


OBSERVATIONS = [
    ("org.w3.clearkey", "update_session", "ok", 0.0001),
    ("org.w3.clearkey", "update_session", "fail", 0.003),
    ("org.w3.clearkey", "update_session", "ok", 7.0),
    ("org.w3.clearkey", "update_session", "ok", 100.0),
    ("com.widevine.alpha", "decrypt", "ok", 0.0005),
    ("com.widevine.alpha", "decrypt", "output_restricted", 0.00049),
]


@pytest.mark.parametrize("created_series", ["on", "off"])
def test_metrics_expose_what_prometheus_clients_instruments_would(
    created_series: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The collector is cheaper per call than Counter + Histogram; its exposition is theirs."""
    if created_series == "off":  # the instruments read it at import: their lines are dropped below
        monkeypatch.setenv("PROMETHEUS_DISABLE_CREATED_SERIES", "true")
    ours = CollectorRegistry()
    metrics = MetricsPlugin(ours, wrap=False)
    theirs = CollectorRegistry()
    counter = Counter(
        "drmkit_operations",
        "Key-system operations (hook calls) by outcome.",
        ["key_system", "operation", "outcome"],
        registry=theirs,
    )
    histogram = Histogram(
        "drmkit_operation_duration_seconds",
        "Duration of key-system operations (hook calls), CDM time included.",
        ["key_system", "operation"],
        registry=theirs,
        buckets=BUCKETS,
    )
    for key_system, operation, outcome, seconds in OBSERVATIONS:
        metrics.observe(key_system, operation, outcome, seconds)
        counter.labels(key_system, operation, outcome).inc()
        histogram.labels(key_system, operation).observe(seconds)

    def exposition(registry: CollectorRegistry, created: bool = True) -> str:
        text = generate_latest(registry).decode()
        if not created:
            text = "".join(line for line in text.splitlines(True) if "_created" not in line)
        return re.sub(r"(_created\{[^}]*\}) \S+", r"\1 <time>", text)

    assert exposition(ours) == exposition(theirs, created=created_series == "on")
    assert ("_created" in exposition(ours)) is (created_series == "on")
    with pytest.raises(ValueError, match="Duplicated"):
        MetricsPlugin(ours)  # one set of these metrics per registry, as with the instruments


def test_metrics_count_every_call_from_concurrent_threads() -> None:
    registry = CollectorRegistry()
    metrics = MetricsPlugin(registry, wrap=False)
    threads, calls = 8, 5000

    def work() -> None:
        for _ in range(calls):
            metrics.observe("org.w3.clearkey", "decrypt", "ok", 0.002)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    labels = {"key_system": "org.w3.clearkey", "operation": "decrypt"}
    total = threads * calls
    assert (
        registry.get_sample_value("drmkit_operations_total", {**labels, "outcome": "ok"}) == total
    )
    assert registry.get_sample_value("drmkit_operation_duration_seconds_count", labels) == total
    le = {**labels, "le": "0.001"}
    assert registry.get_sample_value("drmkit_operation_duration_seconds_bucket", le) == 0
    le = {**labels, "le": "0.005"}
    assert registry.get_sample_value("drmkit_operation_duration_seconds_bucket", le) == total
    duration = registry.get_sample_value("drmkit_operation_duration_seconds_sum", labels)
    assert duration == pytest.approx(total * 0.002)
