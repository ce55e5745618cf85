"""drmkit's conformance kit: a pytest plugin with fixtures and a suite any key-system plugin runs.

The plugin is registered as ``pytest11`` entry point ``drmkit``, so installing drmkit makes its
fixtures available. Run the suite against a key system with::

    pytest --pyargs drmkit.testing.conformance --drmkit-keysystem=org.w3.clearkey

``docs/plugin-guide.md`` explains how a vendor plugin provides its license helper and runs it.
"""

from drmkit.testing.flows import LicensedSession, license_session, next_event
from drmkit.testing.refcdm import RefCdmControl

__all__ = ["LicensedSession", "RefCdmControl", "license_session", "next_event"]
