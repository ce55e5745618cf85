"""drmkit's conformance suite against com.microsoft.playready on the reference CDM's simulation.

The same tests a vendor runs with ``pytest --pyargs drmkit.testing.conformance
--drmkit-keysystem=com.microsoft.playready --drmkit-plugins=playready``.
"""

import pytest
from drmkit.testing.conformance.test_capabilities import *  # noqa: F403
from drmkit.testing.conformance.test_concurrency import *  # noqa: F403
from drmkit.testing.conformance.test_decrypt import *  # noqa: F403
from drmkit.testing.conformance.test_sessions import *  # noqa: F403


@pytest.fixture
def drmkit_key_system() -> str:
    return "com.microsoft.playready"
