"""Checks of caller input shared by the core operations (types, sizes), with typed errors."""

from __future__ import annotations

from drmkit.errors import InvalidInputError, InvalidKeyIdError

MAX_MESSAGE_SIZE = 64 * 1024
"""Largest init data, license or DRM header accepted (EME: 64 KiB)."""

MAX_KEY_ID_SIZE = 512
"""Longest key id accepted (EME Clear Key: 1..512 bytes)."""


def require_bytes(
    value: object,
    what: str,
    *,
    max_size: int = MAX_MESSAGE_SIZE,
    error: type[InvalidInputError] = InvalidInputError,
) -> bytes:
    """Return ``value`` as ``bytes`` if it is a non-empty bytes-like object of at most ``max_size``.

    Raise ``error`` (an :class:`InvalidInputError`) naming ``what`` otherwise.
    """
    if isinstance(value, str) or not isinstance(value, bytes | bytearray | memoryview):
        raise error(f"{what} must be bytes, not {type(value).__name__}")
    data = bytes(value)
    if not data:
        raise error(f"{what} is empty")
    if len(data) > max_size:
        raise error(f"{what} is {len(data)} bytes, more than the {max_size} allowed")
    return data


def require_key_id(value: object) -> bytes:
    """Return ``value`` as a key id of 1..512 bytes, else raise :class:`InvalidKeyIdError`."""
    return require_bytes(value, "key id", max_size=MAX_KEY_ID_SIZE, error=InvalidKeyIdError)
