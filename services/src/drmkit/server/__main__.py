"""``python -m drmkit.server [options]`` is ``drmkit serve [options]``.

Only the ``serve`` command is loaded, so the server starts without importing every CLI command.
"""

from __future__ import annotations

import typer

from drmkit.cli.serve_cmd import serve

if __name__ == "__main__":
    runner = typer.Typer(add_completion=False, pretty_exceptions_show_locals=False)
    runner.command()(serve)
    runner(prog_name="drmkit serve")
