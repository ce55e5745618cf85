"""The conformance suite, collected here so that the normal test run covers Clear Key.

Vendors run the same tests with ``pytest --pyargs drmkit.testing.conformance
--drmkit-keysystem=<their key system>``.
"""

from drmkit.testing.conformance.test_capabilities import *  # noqa: F403
from drmkit.testing.conformance.test_concurrency import *  # noqa: F403
from drmkit.testing.conformance.test_decrypt import *  # noqa: F403
from drmkit.testing.conformance.test_sessions import *  # noqa: F403
