"""Prometheus metrics of every routed hook call (a cross-cutting plugin).

Labels are the key system, the operation and the outcome (``ok`` or a status name); never a
session id. Each container has its own ``CollectorRegistry``.

The plugin is a Prometheus *collector*: a call updates a few plain numbers under one lock, and
the counter and histogram families are built when the registry is scraped. Observing runs on every
CDM operation (every decrypted sample), where ``prometheus_client``'s ``Counter.inc`` plus
``Histogram.observe`` (three locks and a Python loop over the buckets per call) cost more than the
rest of a routed call's observation; the exposition is the same as theirs.
"""

from __future__ import annotations

import math
import os
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from itertools import accumulate

from drmkit.keysystems.wrappers import install_wrappers
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0)
"""Upper bounds (seconds) of the duration histogram's buckets; ``+Inf`` follows."""

OPERATIONS = "drmkit_operations"
DURATION = "drmkit_operation_duration_seconds"
_OPERATIONS_HELP = "Key-system operations (hook calls) by outcome."
_DURATION_HELP = "Duration of key-system operations (hook calls), CDM time included."
_go_float: Callable[[float], str] = floatToGoString  # how prometheus_client writes "le" (untyped)
_LE = tuple(_go_float(bound) for bound in (*BUCKETS, math.inf))


def _created_series_enabled() -> bool:
    # The switch prometheus_client's own instruments obey.
    value = os.environ.get("PROMETHEUS_DISABLE_CREATED_SERIES", "False")
    return value.lower() not in ("true", "1", "t")


class _Series:
    """The numbers of one ``(key_system, operation)``: counts per outcome, the histogram."""

    __slots__ = ("buckets", "created", "outcome_created", "outcomes", "sum")

    def __init__(self, now: float) -> None:
        self.outcomes: dict[str, int] = {}
        self.outcome_created: dict[str, float] = {}
        self.buckets = [0] * len(_LE)  # per bucket, not cumulative
        self.sum = 0.0
        self.created = now


class MetricsPlugin:
    """Counts and times every routed hook call.

    Exposes ``drmkit_operations_total{key_system, operation, outcome}`` and the histogram
    ``drmkit_operation_duration_seconds{key_system, operation}`` (buckets :data:`BUCKETS`).
    """

    def __init__(self, registry: CollectorRegistry, *, wrap: bool = True) -> None:
        """Register the metrics in ``registry``.

        ``wrap=False``: no hooks of its own (an ``ObservingPlugin`` calls :meth:`observe`).
        """
        self.registry = registry
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str], _Series] = {}
        registry.register(self)
        if wrap:
            install_wrappers(self, self.observe)

    def observe(self, key_system: str, operation: str, outcome: str, seconds: float) -> None:
        """Record one call."""
        index = bisect_left(BUCKETS, seconds)  # the first bound >= seconds, as Prometheus's "le"
        with self._lock:
            series = self._series.get((key_system, operation))
            if series is None:
                series = self._series[(key_system, operation)] = _Series(time.time())
            outcomes = series.outcomes
            count = outcomes.get(outcome)
            if count is None:
                series.outcome_created[outcome] = time.time()
                count = 0
            outcomes[outcome] = count + 1
            series.buckets[index] += 1
            series.sum += seconds

    def describe(self) -> Iterator[Metric]:
        """Yield the metric families without samples (the registry checks names with it)."""
        yield CounterMetricFamily(OPERATIONS, _OPERATIONS_HELP, labels=_counter_labels())
        yield HistogramMetricFamily(DURATION, _DURATION_HELP, labels=_histogram_labels())

    def collect(self) -> Iterator[Metric]:
        """Yield the counter and the histogram with one sample set per observed label set."""
        with self._lock:
            snapshot = [
                (key, dict(s.outcomes), dict(s.outcome_created), list(s.buckets), s.sum, s.created)
                for key, s in self._series.items()
            ]
        created = _created_series_enabled()
        counter = CounterMetricFamily(OPERATIONS, _OPERATIONS_HELP, labels=_counter_labels())
        histogram = HistogramMetricFamily(DURATION, _DURATION_HELP, labels=_histogram_labels())
        for (key_system, operation), outcomes, born, buckets, total, first in snapshot:
            for outcome, count in outcomes.items():
                counter.add_metric(
                    [key_system, operation, outcome],
                    count,
                    created=born[outcome] if created else None,
                )
            histogram.add_metric(
                [key_system, operation],
                buckets=list(zip(_LE, accumulate(buckets), strict=True)),
                sum_value=total,
            )
            if created:
                labels = {"key_system": key_system, "operation": operation}
                histogram.samples.append(Sample(f"{DURATION}_created", labels, first))
        yield counter
        yield histogram


def _counter_labels() -> list[str]:
    return ["key_system", "operation", "outcome"]


def _histogram_labels() -> list[str]:
    return ["key_system", "operation"]
