"""drmkit's test challenge and license formats for the reference CDM's simulated key systems.

The reference CDM (``docs/reference-cdm.md``) cannot sign or verify vendors' messages, so its
Widevine, PlayReady and Netflix simulations speak drmkit's test formats instead:

- Widevine challenge: ``"<n>:Type:"`` (optional) + JSON ``{"drmkit_test_challenge": 1,
  "key_system", "type", "session_id", "kids": ["<hex>", ...], "license_type"?}``;
- PlayReady / Netflix challenge: a SOAP ``AcquireLicense`` document whose
  ``<DrmkitTestRequest KeySystem Type LDL SessionId><KID>hex</KID>...</DrmkitTestRequest>`` names
  the session and key ids (CENC byte order);
- license (all three)::

    {"drmkit_test_license": 1, "key_system": "...", "session_id": "..."?,
     "keys": [{"kid": "<hex>", "key": "<hex>", "status": "usable"?}], "type": "..."?}

The license server issues licenses for these challenges at the routes plugins declare
(:class:`TestLicenseEndpoint`, hook ``drm_test_license_endpoints``), and the key-system plugins
check both before they reach the CDM; this module is the one definition of both formats. A real CDM
takes the vendor's own messages: anything that is not a test license is left to the plugin and the
CDM.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException
from drmkit.errors import DrmkitError, InvalidLicenseError

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
"""Key statuses a test license may give a key (``"status"``; default ``"usable"``)."""

MAX_KEY_ID_SIZE = 16
KEY_SIZE = 16


@dataclass(frozen=True, slots=True)
class TestLicense:
    """The checked fields of a test license."""

    __test__ = False  # not a pytest test class, despite the name

    session_id: str | None
    keys: dict[bytes, bytes]
    document: dict[str, Any]

    def addressed_to(self, session_id: str) -> bytes:
        """Return the license with ``session_id`` filled in."""
        return json.dumps({**self.document, "session_id": session_id}).encode("utf-8")


def license_document(
    key_system: str,
    session_id: str | None,
    keys: Mapping[bytes, bytes],
    *,
    statuses: Mapping[bytes, str] | None = None,
    answers: str | None = None,
) -> dict[str, Any]:
    """Return a test license as a JSON-ready dict (``session_id=None``: any session)."""
    entries: list[dict[str, str]] = []
    for kid, key in keys.items():
        entry = {"kid": kid.hex(), "key": key.hex()}
        if statuses and kid in statuses:
            entry["status"] = statuses[kid]
        entries.append(entry)
    document: dict[str, Any] = {"drmkit_test_license": 1, "key_system": key_system}
    if session_id is not None:
        document["session_id"] = session_id
    document["keys"] = entries
    if answers is not None:
        document["type"] = answers
    return document


def build_test_license(
    key_system: str,
    session_id: str | None,
    keys: Mapping[bytes, bytes],
    *,
    statuses: Mapping[bytes, str] | None = None,
    answers: str | None = None,
) -> bytes:
    """Return a test license as compact JSON bytes (see :func:`license_document`)."""
    document = license_document(key_system, session_id, keys, statuses=statuses, answers=answers)
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
    if not 1 <= len(kid_bytes) <= MAX_KEY_ID_SIZE:
        raise InvalidLicenseError(f"test license key #{index}: kid must be 1..16 bytes of hex")
    if len(key_bytes) != KEY_SIZE:
        raise InvalidLicenseError(f"test license key #{index}: key must be 16 bytes of hex")
    if status not in KEY_STATUSES:
        raise InvalidLicenseError(f"test license key #{index}: unknown status {status!r}")
    return kid_bytes, key_bytes


def check_test_license(response: bytes, key_systems: frozenset[str]) -> TestLicense | None:
    """Check ``response`` if it is a test license (``None`` if it is not one: a real license).

    :raises InvalidLicenseError: a test license that is malformed or for another key system.
    """
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


# ---- challenges ---------------------------------------------------------------------------------

_WIDEVINE_PREFIX = re.compile(rb"^([0-9]+):Type:")


class TestChallengeError(DrmkitError, ValueError):
    """A message that is not a well-formed drmkit test challenge (the reason is the message)."""

    __test__ = False  # not a pytest test class, despite the name


@dataclass(frozen=True, slots=True)
class TestChallenge:
    """What a simulated CDM's challenge asks for."""

    __test__ = False  # not a pytest test class, despite the name

    key_system: str
    message_type: str
    session_id: str
    kids: tuple[bytes, ...]
    license_type: str = ""


def _hex_kids(values: object) -> tuple[bytes, ...]:
    if not isinstance(values, list):
        raise TestChallengeError('the challenge lacks a "kids" list')
    kids: dict[bytes, None] = {}
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise TestChallengeError(f"kid #{index} is not a string")
        try:
            kid = bytes.fromhex(value)
        except ValueError:
            raise TestChallengeError(f"kid #{index} is not hex: {value[:40]!r}") from None
        if not 1 <= len(kid) <= MAX_KEY_ID_SIZE:
            raise TestChallengeError(
                f"kid #{index} is {len(kid)} bytes; expected 1..{MAX_KEY_ID_SIZE}"
            )
        kids[kid] = None
    if not kids:
        raise TestChallengeError("the challenge names no key ids")
    return tuple(kids)


def parse_json_test_challenge(body: bytes) -> TestChallenge:
    """Parse a Widevine test challenge (drmkit's JSON; the ``"<n>:Type:"`` prefix optional).

    Applications receive the message with the OCDM prefix stripped (as browsers do); the raw CDM
    message with its prefix is accepted too.
    """
    match = _WIDEVINE_PREFIX.match(body)
    start = match.end() if match is not None else 0
    try:
        document = json.loads(bytes(body[start:]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise TestChallengeError(f"the challenge body is not JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("drmkit_test_challenge") != 1:
        raise TestChallengeError(
            'the challenge body is not a drmkit test challenge ("drmkit_test_challenge": 1)'
        )
    key_system, message_type = document.get("key_system"), document.get("type")
    session_id = document.get("session_id")
    if not isinstance(key_system, str) or not isinstance(message_type, str):
        raise TestChallengeError('the challenge lacks "key_system" or "type"')
    if not isinstance(session_id, str) or not session_id:
        raise TestChallengeError('the challenge lacks "session_id"')
    license_type = document.get("license_type", "")
    return TestChallenge(
        key_system,
        message_type,
        session_id,
        _hex_kids(document.get("kids")),
        license_type if isinstance(license_type, str) else "",
    )


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_xml_test_challenge(body: bytes) -> TestChallenge:
    """Parse a PlayReady / Netflix test challenge (the SOAP body's ``DrmkitTestRequest``).

    The document is parsed with defusedxml, which refuses DTDs and entity declarations in any
    encoding: a test challenge never has one, and refusing them rules out entity expansion.
    """
    try:
        root = ElementTree.fromstring(bytes(body), forbid_dtd=True)
    except DefusedXmlException:
        raise TestChallengeError("DTDs and entity declarations are not accepted") from None
    except (ElementTree.ParseError, ValueError) as exc:
        raise TestChallengeError(f"the challenge is not XML: {exc}") from None
    request = next((e for e in root.iter() if _local_name(e.tag) == "DrmkitTestRequest"), None)
    if request is None:
        raise TestChallengeError(
            "the challenge has no DrmkitTestRequest (not a drmkit test challenge)"
        )
    key_system = request.get("KeySystem", "")
    message_type = request.get("Type", "")
    session_id = request.get("SessionId", "")
    if not key_system or not message_type or not session_id:
        raise TestChallengeError("DrmkitTestRequest lacks KeySystem, Type or SessionId")
    kids = [(e.text or "").strip() for e in request if _local_name(e.tag) == "KID"]
    return TestChallenge(key_system, message_type, session_id, _hex_kids(kids))


# ---- license-server endpoints -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TestLicenseEndpoint:
    """A license-server route that answers one simulated key system's test challenges.

    Declared by a plugin through the ``drm_test_license_endpoints`` hook. The license server
    answers ``POST path`` itself, from its key store: ``parse_challenge`` reads the body (a
    :class:`TestChallengeError`, or any ``ValueError``, is HTTP 400 with its message), a challenge
    naming a key system outside ``key_systems`` is refused (400), and the answer is the test
    license (:func:`license_document`) for every key id the challenge names. ``key_system`` is the
    key system the route is for (metrics and logs label requests with it).

    :raises ValueError: ``path`` is not an absolute URL path, or ``key_systems`` lacks
        ``key_system``.
    """

    __test__ = False  # not a pytest test class, despite the name

    path: str
    key_system: str
    key_systems: frozenset[str]
    parse_challenge: Callable[[bytes], TestChallenge]

    def __post_init__(self) -> None:
        if not self.path.startswith("/") or self.path.startswith("//") or "?" in self.path:
            raise ValueError(f"a test-license endpoint path starts with one '/': {self.path!r}")
        if self.key_system not in self.key_systems:
            raise ValueError(
                f"the endpoint {self.path} for {self.key_system} does not accept its own key system"
            )
