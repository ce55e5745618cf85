"""Rendering of a demo run: live step lines and a summary for people (rich), JSON for scripts."""

from __future__ import annotations

from typing import Any

from drmkit.demo.runner import RunResult, StepOutcome, StepResult
from rich.console import Console
from rich.markup import escape
from rich.table import Table

_MARKS = {
    StepOutcome.OK: "[green]✓[/]",
    StepOutcome.FAILED: "[bold red]✗[/]",
    StepOutcome.SKIPPED: "[dim]-[/]",
}


def format_seconds(seconds: float) -> str:
    """Return a duration for people: ``0.4 ms``, ``12.3 ms``, ``1.52 s``."""
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def print_step(console: Console, result: StepResult) -> None:
    """Print one step's line as soon as it has finished."""
    timing = "" if result.outcome is StepOutcome.SKIPPED else format_seconds(result.seconds)
    detail = result.detail if result.outcome is not StepOutcome.SKIPPED else "skipped"
    style = "red" if result.outcome is StepOutcome.FAILED else "dim"
    console.print(
        f" {_MARKS[result.outcome]} {escape(f'{result.name:<36}')} {timing:>9}  "
        f"[{style}]{escape(detail)}[/]",
        highlight=False,
        soft_wrap=True,
    )


def print_summary(console: Console, run: RunResult, facts: dict[str, Any]) -> None:
    """Print the key statuses table and the verdict."""
    statuses = facts.get("key_statuses") or []
    if statuses:
        table = Table(title="key statuses", title_justify="left")
        table.add_column("key id", style="cyan", no_wrap=True)
        table.add_column("status")
        for entry in statuses:
            colour = "green" if entry["status"] == "USABLE" else "red"
            table.add_row(entry["key_id"], f"[{colour}]{entry['status']}[/]")
        console.print(table)
    total = format_seconds(sum(s.seconds for s in run.steps))
    failure = run.first_failure
    if failure is None and run.ok:
        samples = facts["samples"]
        console.print(
            f"[bold green]demo passed[/] in {total}: {facts['key_system']} license from the "
            f"local license server, {samples['verified']}/{samples['count']} samples decrypted "
            "and verified"
        )
    else:
        reason = f"{failure.name}: {failure.detail}" if failure else "a step did not run"
        console.print(f"[bold red]demo failed[/] after {total}: {escape(reason)}", highlight=False)


def as_json(run: RunResult, facts: dict[str, Any]) -> dict[str, Any]:
    """Return the structured summary printed by ``drmkit demo --json``."""
    failure = run.first_failure
    return {
        "ok": run.ok,
        **facts,
        "steps": [
            {
                "name": s.name,
                "outcome": str(s.outcome),
                "seconds": round(s.seconds, 6),
                "detail": s.detail,
            }
            for s in run.steps
        ],
        "error": {"step": failure.name, "message": failure.detail} if failure else None,
        "total_seconds": round(sum(s.seconds for s in run.steps), 6),
    }
