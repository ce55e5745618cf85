"""drmkit's conformance suite against the Widevine plugin and the reference CDM's simulation.

The same tests a vendor runs with ``pytest --pyargs drmkit.testing.conformance
--drmkit-keysystem=com.widevine.alpha --drmkit-plugins=widevine``.
"""

from drmkit.testing.conformance.test_capabilities import *  # noqa: F403
from drmkit.testing.conformance.test_concurrency import *  # noqa: F403
from drmkit.testing.conformance.test_decrypt import *  # noqa: F403
from drmkit.testing.conformance.test_sessions import *  # noqa: F403
