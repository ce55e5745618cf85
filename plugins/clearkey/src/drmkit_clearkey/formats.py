"""Clear Key data formats: ``keyids`` JSON, Common PSSH boxes, ``webm`` key ids, JWK-set licenses.

Strict parsers: they accept what the W3C Clear Key formats allow and raise a typed error naming the
problem for everything else, before any byte reaches the CDM. Decisions where the specs leave room:
base64url must be unpadded (RFC 7515); ``cenc`` init data without a Common-system PSSH box is
rejected (``InvalidInitDataError``); a license may carry any number of keys; the same key id twice
in a license means the last one wins.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from drmkit.sdk import (
    COMMON_SYSTEM_ID,
    InvalidInitDataError,
    InvalidLicenseError,
    build_pssh_box,
    parse_pssh_boxes,
)

MIN_KEY_ID_SIZE = 1
MAX_KEY_ID_SIZE = 512
KEY_SIZE = 16

_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_B64_ANY = re.compile(r"^[A-Za-z0-9_+/-]*={0,2}$")


def b64url_encode(data: bytes) -> str:
    """Return unpadded base64url of ``data``."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: object, what: str, error: type[ValueError]) -> bytes:
    """Decode strict unpadded base64url ``text``; raise ``error`` naming ``what`` otherwise."""
    if not isinstance(text, str) or not text.isascii() or not _B64URL.match(text):
        raise error(f"{what} is not unpadded base64url: {str(text)[:40]!r}")
    if len(text) % 4 == 1:
        raise error(f"{what} has an impossible base64url length {len(text)}")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise error(f"{what} does not decode: {exc}") from None


def b64_decode_lenient(text: str) -> bytes:
    """Decode base64 or base64url, padded or not (license requests of real OCDM ClearKey)."""
    if not _B64_ANY.match(text):
        raise ValueError(f"not base64: {text[:40]!r}")
    text = text.rstrip("=").replace("+", "-").replace("/", "_")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json_object(data: bytes, what: str, error: type[ValueError]) -> dict[str, Any]:
    if not data.isascii():
        raise error(f"{what} is not ASCII JSON")
    try:
        value = json.loads(data.decode("ascii"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise error(f"{what} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise error(f"{what} is not a JSON object")
    return value


def _key_id(text: object, what: str, error: type[ValueError]) -> bytes:
    kid = b64url_decode(text, what, error)
    if not MIN_KEY_ID_SIZE <= len(kid) <= MAX_KEY_ID_SIZE:
        raise error(f"{what} is {len(kid)} bytes (1..{MAX_KEY_ID_SIZE} allowed)")
    return kid


# -- init data --------------------------------------------------------------------------------


def parse_keyids(data: bytes) -> list[bytes]:
    """Parse ``keyids`` init data ``{"kids": ["<b64url>", ...]}`` into key ids."""
    document = _json_object(data, "keyids init data", InvalidInitDataError)
    kids = document.get("kids")
    if not isinstance(kids, list) or not kids:
        raise InvalidInitDataError('keyids init data needs a non-empty "kids" list')
    return [_key_id(k, f"keyids kid #{i}", InvalidInitDataError) for i, k in enumerate(kids)]


def parse_cenc(data: bytes) -> list[bytes]:
    """Return the key ids of the Common-system v1 PSSH boxes of ``cenc`` init data."""
    key_ids = [
        kid
        for box in parse_pssh_boxes(data)  # PsshError is an InvalidInitDataError
        if box.system_id == COMMON_SYSTEM_ID and box.version == 1
        for kid in box.key_ids
    ]
    if not key_ids:
        raise InvalidInitDataError(
            "cenc init data has no Common-system (1077efec-c0b2-4d02-ace3-3c1e52e2fb4b) v1 pssh"
            " box with key ids: nothing Clear Key can request"
        )
    return key_ids


def parse_webm(data: bytes) -> list[bytes]:
    """``webm`` init data is one raw key id."""
    if not MIN_KEY_ID_SIZE <= len(data) <= MAX_KEY_ID_SIZE:
        raise InvalidInitDataError(f"webm key id is {len(data)} bytes (1..{MAX_KEY_ID_SIZE})")
    return [data]


PARSERS = {"keyids": parse_keyids, "cenc": parse_cenc, "webm": parse_webm}


def parse_init_data(init_data_type: str, data: bytes) -> list[bytes]:
    """Return the key ids of ``data``; ``InvalidInitDataError`` if malformed."""
    parser = PARSERS.get(init_data_type)
    if parser is None:
        raise InvalidInitDataError(f"Clear Key has no init data type {init_data_type!r}")
    return parser(data)


def make_keyids(key_ids: Iterable[bytes]) -> bytes:
    """Build ``keyids`` init data."""
    return json.dumps({"kids": [b64url_encode(k) for k in key_ids]}).encode()


def make_common_pssh(key_ids: Iterable[bytes]) -> bytes:
    """Build a Common-system v1 PSSH box listing 16-byte ``key_ids``."""
    return build_pssh_box(COMMON_SYSTEM_ID, b"", list(key_ids), version=1)


# -- licenses ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClearKeyLicense:
    """A parsed JWK-set license (``keys``) or release acknowledgement (``kids`` only)."""

    keys: dict[bytes, bytes]
    license_type: str | None
    release_ack_key_ids: tuple[bytes, ...] = ()


def parse_license(data: bytes) -> ClearKeyLicense:
    """Parse a JWK set ``{"keys":[{"kty":"oct","kid":...,"k":...}], "type":...}``.

    Unknown members (``alg``, ``use``, ...) are ignored. ``{"kids":[...]}`` alone is a
    release acknowledgement of a persistent session.
    """
    document = _json_object(data, "license", InvalidLicenseError)
    license_type = document.get("type")
    if license_type is not None and license_type not in ("temporary", "persistent-license"):
        raise InvalidLicenseError(f"license type {license_type!r} is unknown")
    if "keys" not in document and isinstance(document.get("kids"), list):
        kids = tuple(
            _key_id(k, f"release kid #{i}", InvalidLicenseError)
            for i, k in enumerate(document["kids"])
        )
        return ClearKeyLicense({}, license_type, kids)
    entries = document.get("keys")
    if not isinstance(entries, list) or not entries:
        raise InvalidLicenseError('license needs a non-empty "keys" list')
    keys: dict[bytes, bytes] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise InvalidLicenseError(f"license key #{index} is not an object")
        if entry.get("kty") != "oct":
            raise InvalidLicenseError(
                f'license key #{index} has kty {entry.get("kty")!r}, not "oct"'
            )
        kid = _key_id(entry.get("kid"), f"license key #{index} kid", InvalidLicenseError)
        key = b64url_decode(entry.get("k"), f"license key #{index} k", InvalidLicenseError)
        if len(key) != KEY_SIZE:
            raise InvalidLicenseError(f"license key #{index} is {len(key)} bytes, not {KEY_SIZE}")
        keys[kid] = key
    return ClearKeyLicense(keys, license_type)


def make_license(keys: Mapping[bytes, bytes], license_type: str = "temporary") -> bytes:
    """Build a JWK-set license carrying ``keys`` (key id → 16-byte key)."""
    return json.dumps(
        {
            "keys": [
                {"kty": "oct", "kid": b64url_encode(kid), "k": b64url_encode(key)}
                for kid, key in keys.items()
            ],
            "type": license_type,
        }
    ).encode()


def request_key_ids(request: bytes) -> list[bytes]:
    """Return the key ids of a license request ``{"kids":[...],"type":...}``.

    Accepts base64url and the standard-base64 kids real OCDM ClearKey emits.
    """
    try:
        document = json.loads(request.decode("utf-8"))
        return [b64_decode_lenient(k) for k in document["kids"]]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InvalidLicenseError(f"not a Clear Key license request: {exc}") from None
