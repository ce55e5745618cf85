"""drmkit's test challenge and license formats for the reference CDM's PlayReady simulations.

The reference CDM (``docs/reference-cdm.md``) cannot sign PlayReady licenses. Its challenge is a
SOAP ``AcquireLicense`` document with a ``<DrmkitTestRequest KeySystem Type LDL SessionId>``
element naming the key ids (CENC order, hex); its license is JSON ``{"drmkit_test_license": 1,
"key_system", "session_id", "keys": [{"kid", "key", "status"?}]}``. A real PlayReady CDM takes a
signed XMR license in a SOAP response: anything that is not a test license goes to the CDM
untouched.

A test license without ``"session_id"`` is addressed to the session it is given to (the plugin
fills in that session's id, which the simulation requires); one naming another session is
refused. When the session's DRM header declares a CHECKSUM for a KID, the license's key for that
KID must match it.
"""

from __future__ import annotations

from drmkit.sdk import (
    InvalidLicenseError,
    TestChallenge,
    TestChallengeError,
    TestLicense,
    build_test_license,
    check_test_license,
    parse_xml_test_challenge,
)

__all__ = ["TestLicense", "build_test_license", "check_test_license", "parse_challenge"]


def parse_challenge(message: bytes) -> TestChallenge:
    """Parse a simulated PlayReady challenge (``InvalidLicenseError`` if it is not one)."""
    try:
        return parse_xml_test_challenge(bytes(message))
    except TestChallengeError as exc:
        raise InvalidLicenseError(f"not a drmkit PlayReady test challenge: {exc}") from None
