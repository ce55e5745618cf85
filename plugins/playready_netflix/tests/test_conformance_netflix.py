"""drmkit's conformance suite against com.netflix.playready on the reference CDM's simulation.

The suite's fault injections name the generic OCDM operations; a Netflix session performs two of
them with the extension calls instead (``update`` is ``store_license_data``, ``close`` starts with
``cancel_challenge_data``), so the injections are aimed at those calls. Everything else is the
suite as a vendor runs it.
"""

from typing import Any

import pytest
from drmkit.testing.conformance.test_capabilities import *  # noqa: F403
from drmkit.testing.conformance.test_concurrency import *  # noqa: F403
from drmkit.testing.conformance.test_decrypt import *  # noqa: F403
from drmkit.testing.conformance.test_sessions import *  # noqa: F403
from drmkit.testing.refcdm import RefCdmControl

NETFLIX_OPERATIONS = {"update": "store_license_data", "close": "cancel_challenge_data"}


class NetflixRefCdmControl(RefCdmControl):
    """Test control that aims generic-operation faults at the calls Netflix sessions make."""

    def inject(self, operation: str, **options: Any) -> None:
        super().inject(NETFLIX_OPERATIONS.get(operation, operation), **options)


@pytest.fixture
def drmkit_key_system() -> str:
    return "com.netflix.playready"


@pytest.fixture
def refcdm(refcdm: RefCdmControl) -> RefCdmControl:
    return NetflixRefCdmControl(refcdm.hal)
