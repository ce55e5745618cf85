"""Registry of command modules: importing one registers its commands on ``drmkit.cli.app``.

Add one import line per command module.
"""

from __future__ import annotations

from drmkit.cli import (  # noqa: F401
    cdm_cmd,
    decrypt_cmd,
    demo_cmd,
    inspect_cmd,
    keys_cmd,
    license_server_cmd,
    plugins_cmd,
    serve_cmd,
    srm_cmd,
)
