"""Conversions from cdata to Python values (``ffi`` is typed ``Any``: convert explicitly)."""

from __future__ import annotations

from typing import Any

from ._ocdm import ffi


def c_text(pointer: Any, limit: int = -1) -> str:
    """Decode a NUL-terminated C string (``""`` for NULL), reading at most ``limit`` bytes."""
    if pointer == ffi.NULL:
        return ""
    raw: bytes = ffi.string(pointer, limit) if limit >= 0 else ffi.string(pointer)
    return raw.decode("utf-8", errors="replace")


def c_bytes(pointer: Any, length: int) -> bytes:
    """Copy ``length`` bytes from ``pointer`` (``b""`` for NULL or 0)."""
    if pointer == ffi.NULL or length == 0:
        return b""
    return bytes(ffi.buffer(pointer, length))
