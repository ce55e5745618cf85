"""Registry of command modules: importing one registers its commands on ``drmkit.cli.app``.

Add one import line per command module.
"""

from __future__ import annotations

from drmkit.cli import keys_cmd, license_server_cmd, srm_cmd  # noqa: F401

from drmkit.cli import inspect_cmd  # noqa: F401
from drmkit.cli import plugins_cmd  # noqa: F401
