"""W3C Clear Key license requests and JWK-set licenses.

Request (the ``license-request`` message of an ``org.w3.clearkey`` session)::

    {"kids": ["<base64url kid>", ...], "type": "temporary" | "persistent-license"}

License (given to ``update()``)::

    {"keys": [{"kty": "oct", "kid": "<base64url>", "k": "<base64url>"}, ...], "type": "..."}

Release (``license-release`` of a persistent-license session) and its acknowledgement are both
``{"kids": [...]}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from drmkit.license_server.errors import bad_request, unknown_kids
from drmkit.license_server.keyids import b64_decode_lenient, b64url_encode
from drmkit.license_server.store import KeyStore

KEY_SYSTEM: Final = "org.w3.clearkey"
SESSION_TYPES: Final = ("temporary", "persistent-license")
# W3C Clear Key: key ids are 1..512 bytes (web-platform-tests reject 0 and 600).
MIN_KID_BYTES: Final = 1
MAX_KID_BYTES: Final = 512


@dataclass(frozen=True, slots=True)
class ClearKeyRequest:
    """A parsed license request: distinct key ids in request order and the session type."""

    kids: tuple[bytes, ...]
    session_type: str


def _load_json_object(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("the request body is not UTF-8") from None
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise bad_request(f"the request body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise bad_request("the request body must be a JSON object")
    return value


def _parse_kids(value: Any) -> tuple[bytes, ...]:
    if value is None:
        raise bad_request('the request has no "kids" member')
    if not isinstance(value, list) or not value:
        raise bad_request('"kids" must be a non-empty array of base64url strings')
    kids: dict[bytes, None] = {}
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise bad_request(f'"kids"[{index}] is not a string')
        try:
            kid = b64_decode_lenient(item)
        except ValueError:
            raise bad_request(f'"kids"[{index}] is not base64url: {item[:64]!r}') from None
        if not MIN_KID_BYTES <= len(kid) <= MAX_KID_BYTES:
            raise bad_request(
                f'"kids"[{index}] is {len(kid)} bytes; key ids are '
                f"{MIN_KID_BYTES}..{MAX_KID_BYTES} bytes"
            )
        kids[kid] = None
    return tuple(kids)


def parse_license_request(body: bytes) -> ClearKeyRequest:
    """Parse a W3C Clear Key license request; raise a 400 ``LicenseServerError`` if malformed.

    Key ids may be base64url (the W3C format) or standard base64 (what real OCDM Clear Key CDMs
    send), padded or not. Duplicates are collapsed; unknown members are ignored.
    """
    document = _load_json_object(body)
    kids = _parse_kids(document.get("kids"))
    session_type = document.get("type", "temporary")
    if session_type not in SESSION_TYPES:
        raise bad_request(f'"type" must be one of {", ".join(SESSION_TYPES)}; got {session_type!r}')
    return ClearKeyRequest(kids, session_type)


def parse_release_request(body: bytes) -> tuple[bytes, ...]:
    """Parse a ``license-release`` message ``{"kids": [...]}``; return its key ids."""
    return _parse_kids(_load_json_object(body).get("kids"))


def issue_license(request: ClearKeyRequest, store: KeyStore) -> dict[str, Any]:
    """Return the JWK-set license for ``request``.

    All or nothing: if any requested key id is unknown, no license is issued and the error names
    every unknown key id, so a client never receives a license that silently lacks keys.
    """
    keys = store.lookup(request.kids)
    missing = [b64url_encode(kid) for kid in request.kids if kid not in keys]
    if missing:
        raise unknown_kids(missing)
    return {
        "keys": [
            {"kty": "oct", "kid": b64url_encode(kid), "k": b64url_encode(keys[kid])}
            for kid in request.kids
        ],
        "type": request.session_type,
    }


def acknowledge_release(kids: tuple[bytes, ...]) -> dict[str, Any]:
    """Return the acknowledgement of a license release: the released key ids."""
    return {"kids": [b64url_encode(kid) for kid in kids]}
