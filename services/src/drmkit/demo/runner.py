"""A demo is a list of named steps run in order, each timed; cleanup steps run whatever happened.

Keeping the steps a plain list keeps the demo open to more of them (e.g. decrypting a real MP4):
build the list, insert a :class:`Step`, run it.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from drmkit.sdk import DemoStep

log = logging.getLogger(__name__)

ContextT = TypeVar("ContextT")


class StepOutcome(enum.StrEnum):
    """How a step ended."""

    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


Step = DemoStep
"""A demo step (the SDK's :class:`drmkit.sdk.DemoStep`: plugins ship steps of their own)."""


@dataclass(slots=True)
class StepResult:
    """What a step did: its outcome, how long it took and a detail line (or the error)."""

    name: str
    outcome: StepOutcome
    seconds: float = 0.0
    detail: str = ""

    @property
    def ok(self) -> bool:
        """Tell whether the step succeeded."""
        return self.outcome is StepOutcome.OK


@dataclass(slots=True)
class RunResult:
    """Every step's result, in order."""

    steps: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Tell whether every step that ran succeeded and none was skipped."""
        return all(s.outcome is StepOutcome.OK for s in self.steps)

    @property
    def first_failure(self) -> StepResult | None:
        """The first failed step, if any."""
        return next((s for s in self.steps if s.outcome is StepOutcome.FAILED), None)


def describe_error(exc: BaseException) -> str:
    """Return a one-line description of ``exc`` naming its type."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def run_steps(
    steps: Sequence[Step[ContextT]],
    context: ContextT,
    on_result: Callable[[StepResult], None] | None = None,
) -> RunResult:
    """Run ``steps`` against ``context``; report each result to ``on_result`` as it completes."""
    result = RunResult()
    failed = False
    for step in steps:
        if failed and not step.cleanup:
            outcome = StepResult(step.name, StepOutcome.SKIPPED)
        else:
            started = time.perf_counter()
            try:
                detail = await step.action(context)
                outcome = StepResult(step.name, StepOutcome.OK, detail=detail)
            except Exception as exc:
                log.debug("demo step %r failed", step.name, exc_info=True)
                outcome = StepResult(step.name, StepOutcome.FAILED, detail=describe_error(exc))
                failed = True
            outcome.seconds = time.perf_counter() - started
        result.steps.append(outcome)
        if on_result is not None:
            on_result(outcome)
    return result
