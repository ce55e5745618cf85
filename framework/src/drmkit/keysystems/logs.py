"""Structured logging of every routed hook call (a cross-cutting plugin).

Successful calls are logged at DEBUG, failed ones at INFO (bad input is an expected outcome, the
caller gets a typed error); fields travel in ``extra`` so structlog's stdlib bridge renders them.
"""

from __future__ import annotations

import logging

from drmkit.keysystems.wrappers import install_wrappers

log = logging.getLogger("drmkit.operations")


class LoggingPlugin:
    """Logs every routed hook call with key system, operation, outcome and duration."""

    def __init__(self, *, wrap: bool = True) -> None:
        """``wrap=False``: no hooks of its own (an ``ObservingPlugin`` calls :meth:`observe`)."""
        if wrap:
            install_wrappers(self, self.observe)

    def observe(self, key_system: str, operation: str, outcome: str, seconds: float) -> None:
        """Log one call."""
        level = logging.DEBUG if outcome == "ok" else logging.INFO
        if log.isEnabledFor(level):
            log.log(
                level,
                "%s %s -> %s (%.3f ms)",
                key_system,
                operation,
                outcome,
                seconds * 1000,
                extra={
                    "key_system": key_system,
                    "operation": operation,
                    "outcome": outcome,
                    "duration_ms": round(seconds * 1000, 3),
                },
            )
