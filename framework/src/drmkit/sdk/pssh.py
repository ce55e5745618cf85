"""PSSH boxes and raw init data: parsing, system names, and decoding through the plugins.

Decoding a system's private data (Widevine protobuf, PlayReady object, ...) is the job of the
plugin that owns the system: :func:`describe_pssh` asks the ``drm_describe_init_data`` hook. This
module only knows the box layout, the registered system ids and the W3C ``keyids`` format.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
import uuid
from collections.abc import Callable
from typing import Any

from drmkit.media.boxes import iter_boxes
from drmkit.media.errors import MediaFormatError
from drmkit.media.model import PsshBox
from drmkit.media.parser import PIFF_PSSH_UUID, parse_pssh

#: Describes system-specific data: ``(system_id, data) -> dict`` or ``None`` if unknown.
Describer = Callable[[bytes, bytes], "dict[str, Any] | None"]

COMMON_SYSTEM_ID = bytes.fromhex("1077efecc0b24d02ace33c1e52e2fb4b")
WIDEVINE_SYSTEM_ID = bytes.fromhex("edef8ba979d64acea3c827dcd51d21ed")
PLAYREADY_SYSTEM_ID = bytes.fromhex("9a04f07998404286ab92e65be0885f95")

#: Registered protection system ids (DASH-IF content protection identifiers) and their names.
SYSTEM_NAMES: dict[bytes, str] = {
    COMMON_SYSTEM_ID: "Common (W3C Clear Key)",
    WIDEVINE_SYSTEM_ID: "Widevine",
    PLAYREADY_SYSTEM_ID: "PlayReady",
    bytes.fromhex("e2719d58a985b3c9781ab030af78d30e"): "ClearKey (DASH-IF)",
    bytes.fromhex("94ce86fb07ff4f43adb893d2fa968ca2"): "FairPlay",
    bytes.fromhex("5e629af538da4063897797ffbd9902d4"): "Marlin",
    bytes.fromhex("f239e769efa348509c16a903c6932efb"): "Adobe Primetime",
    bytes.fromhex("adb41c242dbf4a6d958b4457c0d27b95"): "Nagra",
    bytes.fromhex("3d5e6d359b9a41e8b843dd3c6e72c42c"): "ChinaDRM / WisePlay",
    bytes.fromhex("9a27dd82fde247258cbc4234aa06ec09"): "Verimatrix VCAS",
    bytes.fromhex("80a6be7e14484c379e70d5aebe04c8d2"): "Irdeto",
    bytes.fromhex("644fe7b5260f4fad949a0762ffb054b4"): "CMLA (OMA DRM)",
}


def system_name(system_id: bytes) -> str:
    """Return the registered name of a protection system id, or ``"unknown"``."""
    return SYSTEM_NAMES.get(system_id, "unknown")


def format_uuid(value: bytes) -> str:
    """Format 16 bytes as a lower-case UUID string."""
    return str(uuid.UUID(bytes=value))


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


def parse_pssh_boxes(data: bytes) -> list[PsshBox]:
    """Parse one or more concatenated ``pssh`` boxes (``cenc`` init data)."""
    out = []
    for box in iter_boxes(data, 0, len(data)):
        if box.type == "pssh":
            out.append(parse_pssh(data, box))
        elif box.type == "uuid" and box.user_type == PIFF_PSSH_UUID:
            out.append(parse_pssh(data, box, piff=True))
        else:
            raise MediaFormatError(f"init data holds a '{box.type}' box, not 'pssh'", box.start)
    return out


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
        return {
            "type": "cenc",
            "pssh": [describe_pssh(b, describe) for b in parse_pssh_boxes(data)],
        }
    if kind == "keyids":
        try:
            doc = json.loads(data)
            kids = [_b64url_decode(k).hex() for k in doc["kids"]]
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise MediaFormatError(f"keyids init data is not valid: {exc}", 0) from exc
        return {"type": "keyids", "key_ids": kids}
    box = PsshBox(0, 0, PLAYREADY_SYSTEM_ID, (), data, data)
    return {"type": "playready-object", "pssh": [describe_pssh(box, describe)]}
