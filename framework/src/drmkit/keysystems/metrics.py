"""Prometheus metrics of every routed hook call (a cross-cutting plugin).

Labels are the key system, the operation and the outcome (``ok`` or a status name); never a
session id. Each container has its own ``CollectorRegistry``.
"""

from __future__ import annotations

from typing import Any

from drmkit.keysystems.wrappers import install_wrappers
from prometheus_client import CollectorRegistry, Counter, Histogram

_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0)


class MetricsPlugin:
    """Counts and times every routed hook call."""

    def __init__(self, registry: CollectorRegistry, *, wrap: bool = True) -> None:
        """Create the metrics in ``registry``.

        ``wrap=False``: no hooks of its own (an ``ObservingPlugin`` calls :meth:`observe`).
        """
        self.registry = registry
        self.operations = Counter(
            "drmkit_operations",
            "Key-system operations (hook calls) by outcome.",
            ["key_system", "operation", "outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            "drmkit_operation_duration_seconds",
            "Duration of key-system operations (hook calls), CDM time included.",
            ["key_system", "operation"],
            registry=registry,
            buckets=_BUCKETS,
        )
        # Labelled children are looked up once: ``labels()`` takes a lock and hashes every call.
        # One lookup per call finds both (the counter of the outcome, the operation's histogram).
        self._children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        if wrap:
            install_wrappers(self, self.observe)

    def observe(self, key_system: str, operation: str, outcome: str, seconds: float) -> None:
        """Record one call."""
        children = self._children.get((key_system, operation, outcome))
        if children is None:
            children = (
                self.operations.labels(key_system, operation, outcome),
                self.duration.labels(key_system, operation),
            )
            self._children[(key_system, operation, outcome)] = children
        children[0].inc()
        children[1].observe(seconds)
