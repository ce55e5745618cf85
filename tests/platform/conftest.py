"""Fixtures of the real-stack tests: the environment that points drmkit at Thunder's OCDM.

``scripts/real-stack-tests`` exports it (``OPEN_CDM_SERVER`` for the client library, drmkit's HAL
settings for the library and its search path); the reference side of a comparison runs with those
variables removed, i.e. on the bundled reference CDM.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pytest
from platform_support import STACK_VARIABLES


@pytest.fixture(scope="session")
def stack_env() -> dict[str, str]:
    """The process environment of a drmkit command on the real stack."""
    missing = [name for name in STACK_VARIABLES if not os.environ.get(name)]
    if missing:
        pytest.fail(f"the real-stack tests need {', '.join(missing)} (scripts/real-stack-tests)")
    library = Path(os.environ["DRMKIT_HAL__LIBRARY_PATH"])
    assert library.name.startswith("libClientOCDM"), library
    return dict(os.environ)


@pytest.fixture(scope="session")
def reference_env(stack_env: Mapping[str, str]) -> dict[str, str]:
    """The same environment with the HAL on the bundled reference CDM."""
    hidden = (*STACK_VARIABLES, "DRMKIT_HAL_LIBRARY")
    return {k: v for k, v in stack_env.items() if k not in hidden}
