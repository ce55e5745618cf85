"""drmkit's conformance suite against com.netflix.playready on the reference CDM's simulation.

A Netflix session performs two generic operations with extension calls (``update`` is
``store_license_data``, ``close`` starts with ``cancel_challenge_data``); the plugin's license
helper declares that as ``cdm_operation_aliases``, so the kit aims its injected faults at those
calls and the suite runs exactly as a vendor runs it.
"""

import pytest
from drmkit.testing.conformance.test_capabilities import *  # noqa: F403
from drmkit.testing.conformance.test_concurrency import *  # noqa: F403
from drmkit.testing.conformance.test_decrypt import *  # noqa: F403
from drmkit.testing.conformance.test_sessions import *  # noqa: F403


@pytest.fixture
def drmkit_key_system() -> str:
    return "com.netflix.playready"
