"""drmkit's test challenge and license formats for the reference CDM's Widevine simulation.

The reference CDM (``docs/reference-cdm.md``) cannot sign Widevine protobufs, so its simulated
Widevine speaks drmkit's JSON instead: a challenge ``{"drmkit_test_challenge": 1, "type",
"session_id", "kids": [hex], ...}`` and a license ``{"drmkit_test_license": 1, "key_system",
"session_id", "keys": [{"kid", "key", "status"?}]}``. A real Widevine CDM sends and takes signed
protobufs; the plugin recognises the test formats and checks them, and passes anything else to
the CDM untouched.

A test license may say which message it answers with ``"type"`` (``"license-request"`` or
``"license-renewal"``); the plugin then refuses it unless such a message is pending. A test
license without ``"session_id"`` is addressed to the session it is given to: the plugin fills in
that session's id, which the simulation requires (tests use this for extra keys given without a
request). A ``"session_id"`` naming another session is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from drmkit.errors import InvalidLicenseError

from drmkit_widevine.pssh_data import MAX_KEY_ID_SIZE

KEY_SYSTEM = "com.widevine.alpha"
TEST_LICENSE_MARKER = b'"drmkit_test_license"'
ANSWERABLE_TYPES = ("license-request", "license-renewal")
"""Message types a test license can answer (a release needs no license)."""
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
class SimulatedChallenge:
    """The fields of a simulated Widevine challenge the license side needs."""

    message_type: str
    session_id: str
    license_type: str
    key_ids: tuple[bytes, ...]


def parse_simulated_challenge(body: bytes) -> SimulatedChallenge:
    """Parse a test challenge body (prefix already stripped); ``ValueError`` if it is not one."""
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"not a drmkit test challenge: {exc}") from None
    if not isinstance(document, dict) or document.get("drmkit_test_challenge") != 1:
        raise ValueError('not a drmkit test challenge (no "drmkit_test_challenge": 1)')
    session_id, message_type = document.get("session_id"), document.get("type")
    kids = document.get("kids")
    if not isinstance(session_id, str) or not isinstance(message_type, str):
        raise ValueError('the test challenge lacks "session_id" or "type"')
    if not isinstance(kids, list) or not all(isinstance(k, str) for k in kids):
        raise ValueError('the test challenge lacks a "kids" list of hex strings')
    return SimulatedChallenge(
        message_type,
        session_id,
        str(document.get("license_type", "")),
        tuple(bytes.fromhex(k) for k in kids),
    )


def build_test_license(
    session_id: str | None,
    keys: Mapping[bytes, bytes],
    *,
    answers: str | None = None,
    statuses: Mapping[bytes, str] | None = None,
) -> bytes:
    """Build a test license for ``session_id`` (``None``: any) carrying ``keys`` (id → key)."""
    entries: list[dict[str, str]] = []
    for kid, key in keys.items():
        entry = {"kid": kid.hex(), "key": key.hex()}
        if statuses and kid in statuses:
            entry["status"] = statuses[kid]
        entries.append(entry)
    document: dict[str, Any] = {"drmkit_test_license": 1, "key_system": KEY_SYSTEM}
    if session_id is not None:
        document["session_id"] = session_id
    document["keys"] = entries
    if answers is not None:
        document["type"] = answers
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True, slots=True)
class SimulatedLicense:
    """The checked fields of a test license."""

    session_id: str | None
    key_ids: tuple[bytes, ...]
    answers: str | None
    document: dict[str, Any]

    def addressed_to(self, session_id: str) -> bytes:
        """Return the license with ``session_id`` filled in."""
        return json.dumps({**self.document, "session_id": session_id}).encode("utf-8")


def _check_key(index: int, entry: object) -> bytes:
    if not isinstance(entry, dict):
        raise InvalidLicenseError(f"test license key #{index} is not an object")
    kid, key, status = entry.get("kid"), entry.get("key"), entry.get("status", "usable")
    try:
        kid_bytes = bytes.fromhex(kid) if isinstance(kid, str) else b""
        key_bytes = bytes.fromhex(key) if isinstance(key, str) else b""
    except ValueError:
        raise InvalidLicenseError(f"test license key #{index}: kid and key must be hex") from None
    if not 1 <= len(kid_bytes) <= MAX_KEY_ID_SIZE:
        raise InvalidLicenseError(f"test license key #{index}: kid must be 1..16 bytes of hex")
    if len(key_bytes) != 16:
        raise InvalidLicenseError(f"test license key #{index}: key must be 16 bytes of hex")
    if status not in KEY_STATUSES:
        raise InvalidLicenseError(f"test license key #{index}: unknown status {status!r}")
    return kid_bytes


def check_test_license(response: bytes, key_systems: frozenset[str]) -> SimulatedLicense | None:
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
            f"test license is for key system {key_system!r}, not {KEY_SYSTEM}"
        )
    session_id = document.get("session_id")
    if session_id is not None and (not isinstance(session_id, str) or not session_id):
        raise InvalidLicenseError('test license "session_id" must be a non-empty string')
    answers = document.get("type")
    if answers is not None and answers not in ANSWERABLE_TYPES:
        raise InvalidLicenseError(
            f"test license answers {answers!r}; a license answers one of {ANSWERABLE_TYPES}"
        )
    keys = document.get("keys")
    if not isinstance(keys, list) or not keys:
        raise InvalidLicenseError('test license needs a non-empty "keys" list')
    key_ids = tuple(_check_key(i, e) for i, e in enumerate(keys))
    return SimulatedLicense(session_id, key_ids, answers, document)
