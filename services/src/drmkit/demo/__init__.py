"""``drmkit demo``: the main job end to end on embedded defaults (see :mod:`drmkit.demo.flow`)."""

from __future__ import annotations

from drmkit.demo.flow import (
    DEFAULT_KEY_SYSTEM,
    DemoContext,
    DemoFault,
    DemoSetupError,
    demo_steps,
    prepare,
    summary,
)
from drmkit.demo.runner import RunResult, Step, StepOutcome, StepResult, run_steps

__all__ = [
    "DEFAULT_KEY_SYSTEM",
    "DemoContext",
    "DemoFault",
    "DemoSetupError",
    "RunResult",
    "Step",
    "StepOutcome",
    "StepResult",
    "demo_steps",
    "prepare",
    "run_steps",
    "summary",
]
