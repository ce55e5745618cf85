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
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from typing import Any, Final

from drmkit.license_server.app import JSON_MEDIA_TYPE, IssuedResponse, LicenseEndpoint
from drmkit.license_server.errors import LicenseServerError, bad_request
from drmkit.license_server.store import KeyStore
from drmkit.sdk.test_license import license_document

WIDEVINE: Final = "com.widevine.alpha"
PLAYREADY: Final = "com.microsoft.playready"
NETFLIX: Final = "com.netflix.playready"
# Message types a license answers; a "license-release" needs no license.
_LICENSE_TYPES: Final = ("license-request", "license-renewal")
_WIDEVINE_PREFIX = re.compile(rb"^([0-9]+):Type:")
_MAX_KID_BYTES: Final = 16
# The challenge is our own document: a DTD or entity declaration never belongs in it, and refusing
# them up front rules out entity-expansion attacks on the XML parser.
_FORBIDDEN_XML = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SimulatedChallenge:
    """What a simulated CDM's challenge asks for."""

    key_system: str
    message_type: str
    session_id: str
    kids: tuple[bytes, ...]


def _parse_hex_kids(values: list[Any]) -> tuple[bytes, ...]:
    kids: dict[bytes, None] = {}
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise bad_request(f"kid #{index} is not a string")
        try:
            kid = bytes.fromhex(value)
        except ValueError:
            raise bad_request(f"kid #{index} is not hex: {value[:40]!r}") from None
        if not 1 <= len(kid) <= _MAX_KID_BYTES:
            raise bad_request(f"kid #{index} is {len(kid)} bytes; expected 1..{_MAX_KID_BYTES}")
        kids[kid] = None
    if not kids:
        raise bad_request("the challenge names no key ids")
    return tuple(kids)


def parse_widevine_challenge(body: bytes) -> SimulatedChallenge:
    """Parse the simulated Widevine challenge (drmkit's JSON body, ``"<n>:Type:"`` optional).

    Applications receive the message with the OCDM prefix stripped (as browsers do); the raw
    CDM message with its prefix is accepted too.
    """
    match = _WIDEVINE_PREFIX.match(body)
    start = match.end() if match is not None else 0
    try:
        document = json.loads(body[start:].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise bad_request(f"the challenge body is not JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("drmkit_test_challenge") != 1:
        raise bad_request(
            'the challenge body is not a drmkit test challenge ("drmkit_test_challenge": 1)'
        )
    key_system, message_type, session_id = (
        document.get("key_system"),
        document.get("type"),
        document.get("session_id"),
    )
    kids = document.get("kids")
    if not isinstance(key_system, str) or not isinstance(message_type, str):
        raise bad_request('the challenge lacks "key_system" or "type"')
    if not isinstance(session_id, str) or not session_id:
        raise bad_request('the challenge lacks "session_id"')
    if not isinstance(kids, list):
        raise bad_request('the challenge lacks "kids"')
    return SimulatedChallenge(key_system, message_type, session_id, _parse_hex_kids(kids))


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_playready_challenge(body: bytes) -> SimulatedChallenge:
    """Parse the simulated PlayReady / Netflix SOAP challenge (its ``DrmkitTestRequest``)."""
    if _FORBIDDEN_XML.search(body):
        raise bad_request("DTDs and entity declarations are not accepted")
    try:
        root = ElementTree.fromstring(body)
    except (ElementTree.ParseError, ValueError) as exc:
        raise bad_request(f"the challenge is not XML: {exc}") from None
    request = next((e for e in root.iter() if _local_name(e.tag) == "DrmkitTestRequest"), None)
    if request is None:
        raise bad_request("the challenge has no DrmkitTestRequest (not a drmkit test challenge)")
    key_system = request.get("KeySystem", "")
    message_type = request.get("Type", "")
    session_id = request.get("SessionId", "")
    if not key_system or not message_type or not session_id:
        raise bad_request("DrmkitTestRequest lacks KeySystem, Type or SessionId")
    kids = [(e.text or "").strip() for e in request if _local_name(e.tag) == "KID"]
    return SimulatedChallenge(key_system, message_type, session_id, _parse_hex_kids(kids))


def issue_test_license(challenge: SimulatedChallenge, store: KeyStore) -> dict[str, Any]:
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
        challenge: SimulatedChallenge = parse(body)
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
