"""``python -m drmkit.server [options]`` is ``drmkit serve [options]``."""

from __future__ import annotations

import sys

from drmkit.cli import (
    app,
    commands,  # noqa: F401 - registers every command, ``serve`` among them
)

if __name__ == "__main__":
    app(["serve", *sys.argv[1:]], prog_name="drmkit")
