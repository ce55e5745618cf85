"""``drmkit demo``: run the main job end to end and report each step."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Annotated

import typer
from drmkit.cli import app
from drmkit.cli.common import EXIT_FAILURE, fail, load_settings


@app.command("demo")
def demo(
    key_system: Annotated[
        str,
        typer.Option(
            "--key-system",
            "-k",
            help="Key system to demonstrate (its plugin enabled, or installed if none configured).",
        ),
    ] = "org.w3.clearkey",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON summary on stdout (for scripts).")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show the log lines of every component.")
    ] = False,
    inject_fault: Annotated[
        str,
        typer.Option(
            hidden=True,
            help="Break something on purpose: wrong-key, unknown-kid or cdm-decrypt-error.",
        ),
    ] = "none",
) -> None:
    """Run drmkit's main job on this machine and check every step.

    Starts a license server on a free loopback port, stores a random content key, encrypts CENC
    samples with an independent AES, then through drmkit's core creates MediaKeys and a key
    session, fetches the license over HTTP, decrypts the samples through the CDM and compares them
    byte for byte. Exit status: 0 when every step passed, 1 when one failed, 2 for usage errors.
    """
    from drmkit.demo import DemoFault, DemoSetupError, demo_steps, prepare, run_steps, summary
    from drmkit.demo.report import as_json as report_json
    from drmkit.demo.report import print_step, print_summary
    from drmkit.logging import configure

    try:
        fault = DemoFault(inject_fault)
    except ValueError:
        fail(f"unknown fault {inject_fault!r}; one of: {', '.join(f.value for f in DemoFault)}")
    settings = load_settings()
    configure(settings)
    if not verbose:
        # The demo's own report says what happened; component logs are for --verbose.
        logging.getLogger().setLevel(max(logging.getLogger().level, logging.WARNING))

    try:
        context = prepare(settings, key_system, fault)
    except DemoSetupError as exc:
        fail(str(exc))

    from rich.console import Console

    console = Console(stderr=as_json, quiet=as_json)
    console.print(f"[bold]drmkit demo[/] · {key_system}")
    steps = demo_steps(context)
    run = asyncio.run(run_steps(steps, context, lambda r: print_step(console, r)))
    facts = summary(context)
    if as_json:
        typer.echo(json.dumps(report_json(run, facts), indent=2))
    else:
        print_summary(console, run, facts)
    if not run.ok:
        raise typer.Exit(EXIT_FAILURE)
