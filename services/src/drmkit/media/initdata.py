"""Describing init data for people (``drmkit inspect``): PSSH boxes, PlayReady objects, keyids.

Decoding a system's private data (Widevine protobuf, PlayReady object, ...) is the job of the
plugin that owns the system: :func:`describe_pssh` asks the ``drm_describe_init_data`` hook. This
module only knows the box layout (through :mod:`drmkit.sdk.pssh`), the registered system ids and the
W3C ``keyids`` format.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from collections.abc import Callable
from typing import Any

from drmkit.media.errors import MediaFormatError
from drmkit.sdk.pssh import (
    PLAYREADY_SYSTEM_ID,
    PsshBox,
    PsshError,
    format_uuid,
    parse_pssh_boxes,
    system_name,
)

#: Describes system-specific data: ``(system_id, data) -> dict`` or ``None`` if unknown.
Describer = Callable[[bytes, bytes], "dict[str, Any] | None"]


def describe_pssh(box: PsshBox, describe: Describer | None = None) -> dict[str, Any]:
    """Return a JSON-friendly description of one PSSH box.

    ``describe`` decodes the system-specific data (normally the plugins'
    ``drm_describe_init_data`` hook); without one, or when no plugin knows the system, the data is
    shown raw (base64).
    """
    decoded: dict[str, Any] | None = None
    if box.data and describe is not None:
        try:
            decoded = describe(box.system_id, box.data)
        except Exception as exc:  # a plugin fault must not break inspection
            decoded = {"error": f"{type(exc).__name__}: {exc}"}
    return {
        "offset": box.offset,
        "version": box.version,
        "system_id": format_uuid(box.system_id),
        "system": system_name(box.system_id),
        "key_ids": [kid.hex() for kid in box.key_ids],
        "data_size": len(box.data),
        "decoded": decoded,
        "data": base64.b64encode(box.data).decode() if decoded is None and box.data else None,
    }


def _b64url_decode(text: object) -> bytes:
    if not isinstance(text, str) or not text.isascii():
        raise ValueError("a key id is not an ASCII base64url string")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def classify_init_data(data: bytes) -> str:
    """Tell what raw init data is: ``"cenc"`` (pssh boxes), ``"keyids"`` (JSON) or ``"pro"``."""
    if len(data) >= 8 and data[4:8] in (b"pssh", b"uuid"):
        return "cenc"
    if data.lstrip()[:1] == b"{":
        return "keyids"
    if len(data) >= 6 and struct.unpack_from("<I", data)[0] == len(data):
        return "pro"
    raise MediaFormatError("init data is neither pssh boxes, a PlayReady object nor keyids JSON", 0)


def describe_init_data(data: bytes, describe: Describer | None = None) -> dict[str, Any]:
    """Describe raw init data: pssh box(es), a bare PlayReady object, or ``keyids`` JSON."""
    kind = classify_init_data(data)
    if kind == "cenc":
        try:
            boxes = parse_pssh_boxes(data)
        except PsshError as exc:
            raise MediaFormatError(str(exc), exc.offset) from exc
        return {"type": "cenc", "pssh": [describe_pssh(b, describe) for b in boxes]}
    if kind == "keyids":
        try:
            doc = json.loads(data)
            kids = [_b64url_decode(k).hex() for k in doc["kids"]]
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise MediaFormatError(f"keyids init data is not valid: {exc}", 0) from exc
        return {"type": "keyids", "key_ids": kids}
    box = PsshBox(0, len(data), 0, 0, PLAYREADY_SYSTEM_ID, (), data, data)
    return {"type": "playready-object", "pssh": [describe_pssh(box, describe)]}
