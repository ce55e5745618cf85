"""drmkit's conformance suite, run through ``drmkit.client`` against a real ``drmkit serve``.

The same tests as ``tests/conformance``; only the transport differs (``drmkit_transport`` is
``ipc`` here), so the client must behave exactly like the in-process core.
"""

from drmkit.testing.conformance.test_capabilities import *  # noqa: F403
from drmkit.testing.conformance.test_concurrency import *  # noqa: F403
from drmkit.testing.conformance.test_decrypt import *  # noqa: F403
from drmkit.testing.conformance.test_sessions import *  # noqa: F403
