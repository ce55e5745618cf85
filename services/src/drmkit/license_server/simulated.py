"""Test-license routes for simulated key systems, declared by their plugins.

A key-system plugin whose CDM speaks drmkit's test formats (the reference CDM's Widevine,
PlayReady and Netflix simulations; ``docs/reference-cdm.md``) declares the routes that answer its
challenges with the ``drm_test_license_endpoints`` hook: a path, the key system, the key systems a
challenge may name, and the challenge parser (:class:`drmkit.sdk.TestLicenseEndpoint`). Everything
else is the license server's, the same for every route: the key-store lookup, the license
(``{"drmkit_test_license": 1, "key_system", "session_id", "keys": [{"kid", "key"}]}``), and the
errors. A device's real CDM replaces the simulations and talks to the vendor's license service.
"""

from __future__ import annotations

import json
from typing import Any, Final

from drmkit.license_server.app import JSON_MEDIA_TYPE, IssuedResponse, LicenseEndpoint
from drmkit.license_server.errors import LicenseServerError, bad_request
from drmkit.license_server.store import KeyStore
from drmkit.sdk.test_license import TestChallenge, TestLicenseEndpoint, license_document

# Message types a license answers; a "license-release" needs no license.
_LICENSE_TYPES: Final = ("license-request", "license-renewal")


def parse_challenge(endpoint: TestLicenseEndpoint, body: bytes) -> TestChallenge:
    """Parse ``body`` with the endpoint's parser: a malformed challenge is a 400 naming the reason.

    ``TestChallengeError`` is a ``ValueError``; a plugin's own parser may raise any ``ValueError``.
    """
    try:
        return endpoint.parse_challenge(body)
    except ValueError as exc:
        raise bad_request(str(exc)) from None


def issue_test_license(challenge: TestChallenge, store: KeyStore) -> dict[str, Any]:
    """Return the test license for ``challenge``: every key, or 404 naming the unknown ones."""
    if challenge.message_type not in _LICENSE_TYPES:
        raise LicenseServerError(
            400,
            "unsupported_message_type",
            f"{challenge.message_type!r} messages need no license "
            f"(this endpoint answers {', '.join(_LICENSE_TYPES)})",
        )
    keys = store.lookup(challenge.kids)
    missing = [kid.hex() for kid in challenge.kids if kid not in keys]
    if missing:
        raise LicenseServerError(
            404,
            "unknown_kids",
            f"no key is stored for {len(missing)} of the requested key ids",
            kids=missing,
        )
    return license_document(
        challenge.key_system, challenge.session_id, {kid: keys[kid] for kid in challenge.kids}
    )


def license_route(endpoint: TestLicenseEndpoint) -> LicenseEndpoint:
    """Return the license server's ``POST`` route for a plugin's test-license endpoint."""

    def handle(body: bytes, store: KeyStore) -> IssuedResponse:
        challenge = parse_challenge(endpoint, body)
        if challenge.key_system not in endpoint.key_systems:
            raise bad_request(
                f"this endpoint serves {endpoint.key_system};"
                f" the challenge is for {challenge.key_system!r}"
            )
        license_ = issue_test_license(challenge, store)
        payload = json.dumps(license_, separators=(",", ":")).encode("utf-8")
        return IssuedResponse(payload, JSON_MEDIA_TYPE, challenge.kids)

    return LicenseEndpoint(endpoint.path, endpoint.key_system, "license", handle)
