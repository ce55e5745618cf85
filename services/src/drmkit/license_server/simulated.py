"""License endpoints for the reference CDM's simulated key systems (Widevine, PlayReady, Netflix).

The challenge and license formats are drmkit's test formats (``docs/reference-cdm.md``), not the
vendors': a device's real CDM replaces the simulations and talks to the vendor's license service.

- Widevine challenge: ``"<n>:Type:"`` + JSON ``{"drmkit_test_challenge": 1, "key_system",
  "type", "session_id", "kids": ["<hex>", ...], ...}``.
- PlayReady / Netflix challenge: a SOAP ``AcquireLicense`` document whose
  ``<DrmkitTestRequest KeySystem Type LDL SessionId><KID>hex</KID>...</DrmkitTestRequest>``
  names the session and key ids (CENC byte order).
- License (all three): JSON ``{"drmkit_test_license": 1, "key_system", "session_id",
  "keys": [{"kid": "<hex>", "key": "<hex>"}, ...]}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from drmkit.license_server.app import JSON_MEDIA_TYPE, IssuedResponse, LicenseEndpoint
from drmkit.license_server.errors import LicenseServerError, bad_request
from drmkit.license_server.store import KeyStore
from drmkit.sdk.test_license import (
    TestChallenge,
    TestChallengeError,
    license_document,
    parse_json_test_challenge,
    parse_xml_test_challenge,
)

WIDEVINE: Final = "com.widevine.alpha"
PLAYREADY: Final = "com.microsoft.playready"
NETFLIX: Final = "com.netflix.playready"
# Message types a license answers; a "license-release" needs no license.
_LICENSE_TYPES: Final = ("license-request", "license-renewal")


def _parsed(parse: Callable[[bytes], TestChallenge]) -> Callable[[bytes], TestChallenge]:
    """Wrap an SDK challenge parser: a malformed challenge is a 400 naming the reason."""

    def parse_or_400(body: bytes) -> TestChallenge:
        try:
            return parse(body)
        except TestChallengeError as exc:
            raise bad_request(str(exc)) from None

    return parse_or_400


parse_widevine_challenge = _parsed(parse_json_test_challenge)
parse_playready_challenge = _parsed(parse_xml_test_challenge)


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


def _endpoint(path: str, key_system: str, aliases: frozenset[str], parse: Any) -> LicenseEndpoint:
    def handle(body: bytes, store: KeyStore) -> IssuedResponse:
        challenge: TestChallenge = parse(body)
        if challenge.key_system not in aliases:
            raise bad_request(
                f"this endpoint serves {key_system}; the challenge is for {challenge.key_system!r}"
            )
        license_ = issue_test_license(challenge, store)
        payload = json.dumps(license_, separators=(",", ":")).encode("utf-8")
        return IssuedResponse(payload, JSON_MEDIA_TYPE, challenge.kids)

    return LicenseEndpoint(path, key_system, "license", handle)


SIMULATED_ENDPOINTS: tuple[LicenseEndpoint, ...] = (
    _endpoint(
        "/refcdm/widevine/license", WIDEVINE, frozenset({WIDEVINE}), parse_widevine_challenge
    ),
    _endpoint(
        "/refcdm/playready/license",
        PLAYREADY,
        frozenset({PLAYREADY, "com.youtube.playready"}),
        parse_playready_challenge,
    ),
    _endpoint("/refcdm/netflix/license", NETFLIX, frozenset({NETFLIX}), parse_playready_challenge),
)
