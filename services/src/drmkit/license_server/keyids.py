"""Encoding and parsing of key ids and content keys (16-byte values) for the license server.

W3C Clear Key uses base64url without padding on the wire; people type hex (often in UUID form).
The parsers here accept every common spelling and always produce raw bytes.
"""

from __future__ import annotations

import base64
import binascii
import re

KEY_BYTES = 16
_HEX_RE = re.compile(r"^[0-9a-fA-F]{32}$")
_B64_RE = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")


def b64url_encode(raw: bytes) -> str:
    """Return ``raw`` as base64url without padding (RFC 7515), as W3C Clear Key writes it."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64_decode_lenient(text: str) -> bytes:
    """Decode base64url or standard base64, padded or not.

    The two alphabets differ only in ``-_`` versus ``+/``, so one decoder serves both: real OCDM
    Clear Key CDMs send standard base64 where the W3C format says base64url. Anything else
    (non-ASCII, stray characters, impossible lengths) raises ``ValueError``.
    """
    if not text.isascii() or not _B64_RE.fullmatch(text):
        raise ValueError(f"{text!r} is not base64url")
    stripped = text.rstrip("=")
    if len(stripped) % 4 == 1:
        raise ValueError(f"{text!r} has an impossible base64 length")
    normalized = stripped.replace("+", "-").replace("/", "_")
    padded = normalized + "=" * (-len(normalized) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded)
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - regex filters these first
        raise ValueError(f"{text!r} is not base64url: {exc}") from exc
    # Unused low bits of the last character must be zero, so each value has one spelling and
    # e.g. "..._w" and "..._x" are not silently the same key id.
    if b64url_encode(raw) != normalized:
        raise ValueError(f"{text!r} is not canonical base64url (non-zero trailing bits)")
    return raw


def parse_key_bytes(text: str, *, what: str = "key id") -> bytes:
    """Parse a 16-byte key id or key given as hex (UUID dashes allowed) or base64(url).

    Raises ``ValueError`` with a message naming ``what`` when the text is neither, or does not
    decode to exactly 16 bytes.
    """
    candidate = text.strip()
    compact = candidate.replace("-", "") if len(candidate) == 36 else candidate
    if _HEX_RE.fullmatch(compact):
        return bytes.fromhex(compact)
    try:
        raw = b64_decode_lenient(candidate)
    except ValueError:
        raise ValueError(
            f"{what} {text!r} is neither 32 hex digits nor base64url of {KEY_BYTES} bytes"
        ) from None
    if len(raw) != KEY_BYTES:
        raise ValueError(
            f"{what} {text!r} is neither 32 hex digits nor base64url of {KEY_BYTES} bytes "
            f"(it decodes to {len(raw)} bytes)"
        )
    return raw
