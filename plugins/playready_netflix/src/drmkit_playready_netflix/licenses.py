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

import json
from dataclasses import dataclass
from typing import Any

from drmkit.errors import InvalidLicenseError
from drmkit.license_server.errors import LicenseServerError
from drmkit.license_server.simulated import SimulatedChallenge, parse_playready_challenge

TEST_LICENSE_MARKER = b'"drmkit_test_license"'
KEY_STATUSES = frozenset(
    {
        "usable",
        "expired",
        "released",
        "output-restricted",
        "output-restricted-hdcp22",
        "output-downscaled",
        "status-pending",
        "internal-error",
        "hw-error",
    }
)


@dataclass(frozen=True, slots=True)
class TestLicense:
    """The checked fields of a test license."""

    session_id: str | None
    keys: dict[bytes, bytes]
    document: dict[str, Any]

    def addressed_to(self, session_id: str) -> bytes:
        """Return the license with ``session_id`` filled in."""
        return json.dumps({**self.document, "session_id": session_id}).encode("utf-8")


def parse_challenge(message: bytes) -> SimulatedChallenge:
    """Parse a simulated PlayReady challenge (``InvalidLicenseError`` if it is not one)."""
    try:
        return parse_playready_challenge(bytes(message))
    except LicenseServerError as exc:
        raise InvalidLicenseError(f"not a drmkit PlayReady test challenge: {exc}") from None


def build_test_license(key_system: str, session_id: str | None, keys: dict[bytes, bytes]) -> bytes:
    """Build a test license for ``session_id`` (``None``: the session it is given to)."""
    document: dict[str, Any] = {"drmkit_test_license": 1, "key_system": key_system}
    if session_id is not None:
        document["session_id"] = session_id
    document["keys"] = [{"kid": k.hex(), "key": v.hex()} for k, v in keys.items()]
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def _check_key(index: int, entry: object) -> tuple[bytes, bytes]:
    if not isinstance(entry, dict):
        raise InvalidLicenseError(f"test license key #{index} is not an object")
    kid, key, status = entry.get("kid"), entry.get("key"), entry.get("status", "usable")
    try:
        kid_bytes = bytes.fromhex(kid) if isinstance(kid, str) else b""
        key_bytes = bytes.fromhex(key) if isinstance(key, str) else b""
    except ValueError:
        raise InvalidLicenseError(f"test license key #{index}: kid and key must be hex") from None
    if not 1 <= len(kid_bytes) <= 16:
        raise InvalidLicenseError(f"test license key #{index}: kid must be 1..16 bytes of hex")
    if len(key_bytes) != 16:
        raise InvalidLicenseError(f"test license key #{index}: key must be 16 bytes of hex")
    if status not in KEY_STATUSES:
        raise InvalidLicenseError(f"test license key #{index}: unknown status {status!r}")
    return kid_bytes, key_bytes


def check_test_license(response: bytes, key_systems: frozenset[str]) -> TestLicense | None:
    """Check ``response`` if it is a test license (``None`` if it is not one: a real license)."""
    if not response.lstrip().startswith(b"{") or TEST_LICENSE_MARKER not in response:
        return None
    try:
        document = json.loads(response.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InvalidLicenseError(f"test license is not JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("drmkit_test_license") != 1:
        raise InvalidLicenseError('test license needs "drmkit_test_license": 1')
    key_system = document.get("key_system")
    if key_system not in key_systems:
        raise InvalidLicenseError(
            f"test license is for key system {key_system!r}, not {' / '.join(sorted(key_systems))}"
        )
    session_id = document.get("session_id")
    if session_id is not None and (not isinstance(session_id, str) or not session_id):
        raise InvalidLicenseError('test license "session_id" must be a non-empty string')
    keys = document.get("keys")
    if not isinstance(keys, list) or not keys:
        raise InvalidLicenseError('test license needs a non-empty "keys" list')
    pairs = dict(_check_key(i, e) for i, e in enumerate(keys))
    return TestLicense(session_id, pairs, document)
