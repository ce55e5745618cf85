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

from drmkit.sdk import InvalidLicenseError, TestChallenge, parse_json_test_challenge
from drmkit.sdk import build_test_license as build_sdk_test_license
from drmkit.sdk import check_test_license as check_sdk_test_license

KEY_SYSTEM = "com.widevine.alpha"
ANSWERABLE_TYPES = ("license-request", "license-renewal")
"""Message types a test license can answer (a release needs no license)."""


def parse_simulated_challenge(body: bytes) -> TestChallenge:
    """Parse a test challenge body (prefix already stripped); ``ValueError`` if it is not one."""
    return parse_json_test_challenge(body)


def build_test_license(
    session_id: str | None,
    keys: Mapping[bytes, bytes],
    *,
    answers: str | None = None,
    statuses: Mapping[bytes, str] | None = None,
) -> bytes:
    """Build a test license for ``session_id`` (``None``: any) carrying ``keys`` (id → key)."""
    return build_sdk_test_license(KEY_SYSTEM, session_id, keys, statuses=statuses, answers=answers)


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


def check_test_license(response: bytes, key_systems: frozenset[str]) -> SimulatedLicense | None:
    """Check ``response`` if it is a test license (``None`` if it is not one: a real license)."""
    checked = check_sdk_test_license(response, key_systems)
    if checked is None:
        return None
    answers = checked.document.get("type")
    if answers is not None and answers not in ANSWERABLE_TYPES:
        raise InvalidLicenseError(
            f"test license answers {answers!r}; a license answers one of {ANSWERABLE_TYPES}"
        )
    return SimulatedLicense(checked.session_id, tuple(checked.keys), answers, checked.document)
