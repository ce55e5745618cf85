"""Widevine init data: ``cenc`` (pssh boxes), ``webm`` (a key id) and ``keyids`` (W3C JSON).

:func:`parse_init_data` checks init data before it reaches the CDM and returns what it names;
:func:`init_data_for_cdm` turns ``keyids`` into the ``cenc`` form a Widevine CDM reads (OCDM
Widevine knows only ``cenc`` and ``webm``). Decisions where the formats leave room:

- ``cenc``: only boxes of the Widevine system id count; other systems' boxes are skipped (but must
  still be well-formed boxes); no Widevine box at all is an error (the real CDM would answer with
  an empty challenge). Key ids come from v1 box headers and from the ``WidevinePsshData``
  ``key_ids``, repeats dropped in order. A header with neither key ids nor a content id names
  nothing a license server could answer: an error. A content id alone is fine (real services map
  it to keys).
- ``keyids``: ``{"kids": ["<base64url>", ...]}``, non-empty, padding tolerated, key ids 1..16 bytes.
- ``webm``: the raw key id, 1..16 bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass

from drmkit.sdk import InvalidInitDataError, build_pssh_box, parse_pssh_boxes

from drmkit_widevine.pssh_data import (
    MAX_KEY_ID_SIZE,
    WIDEVINE_SYSTEM_ID,
    WidevineHeader,
    check_for_request,
    decode_pssh_data,
    encode_pssh_data,
)

INIT_DATA_TYPES = frozenset({"cenc", "keyids", "webm"})
_B64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")


@dataclass(frozen=True, slots=True)
class WidevineInitData:
    """What a piece of init data asks for."""

    init_data_type: str
    key_ids: tuple[bytes, ...]
    headers: tuple[WidevineHeader, ...] = ()

    @property
    def content_ids(self) -> tuple[bytes, ...]:
        """The content ids of the Widevine headers (real services map them to keys)."""
        return tuple(h.content_id for h in self.headers if h.content_id)


def _check_key_id(key_id: bytes, what: str) -> bytes:
    if not 1 <= len(key_id) <= MAX_KEY_ID_SIZE:
        raise InvalidInitDataError(f"{what} is {len(key_id)} bytes (1..{MAX_KEY_ID_SIZE} allowed)")
    return key_id


def parse_cenc(data: bytes) -> WidevineInitData:
    """Parse ``cenc`` init data: the Widevine boxes among any number of ``pssh`` boxes."""
    boxes = parse_pssh_boxes(data)
    widevine = [b for b in boxes if b.system_id == WIDEVINE_SYSTEM_ID]
    if not widevine:
        systems = ", ".join(b.system_uuid for b in boxes)
        raise InvalidInitDataError(
            f"cenc init data has no Widevine pssh box (edef8ba9-79d6-4ace-a3c8-27dcd51d21ed);"
            f" it holds boxes of {systems}"
        )
    key_ids: dict[bytes, None] = {}
    headers: list[WidevineHeader] = []
    for box in widevine:
        where = f"Widevine pssh box at offset {box.offset}"
        try:
            header = decode_pssh_data(box.data)
        except InvalidInitDataError as exc:
            raise InvalidInitDataError(f"{where}: {exc.message}") from None
        check_for_request(header, where)
        headers.append(header)
        key_ids.update(dict.fromkeys(box.key_ids))
        key_ids.update(dict.fromkeys(header.key_ids))
    if not key_ids and not any(h.content_id for h in headers):
        raise InvalidInitDataError(
            "the Widevine pssh data names no key ids and no content id: nothing to license"
        )
    return WidevineInitData("cenc", tuple(key_ids), tuple(headers))


def parse_keyids(data: bytes) -> WidevineInitData:
    """Parse W3C ``keyids`` JSON init data."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InvalidInitDataError(f"keyids init data is not JSON: {exc}") from None
    kids = document.get("kids") if isinstance(document, dict) else None
    if not isinstance(kids, list) or not kids:
        raise InvalidInitDataError('keyids init data needs a non-empty "kids" list')
    key_ids: dict[bytes, None] = {}
    for index, text in enumerate(kids):
        if not isinstance(text, str) or not _B64URL.match(text):
            raise InvalidInitDataError(f"keyids kid #{index} is not base64url: {str(text)[:40]!r}")
        stripped = text.rstrip("=")
        try:
            raw = base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
        except (binascii.Error, ValueError) as exc:
            raise InvalidInitDataError(f"keyids kid #{index} does not decode: {exc}") from None
        key_ids[_check_key_id(raw, f"keyids kid #{index}")] = None
    return WidevineInitData("keyids", tuple(key_ids))


def parse_webm(data: bytes) -> WidevineInitData:
    """``webm`` init data is one raw key id."""
    return WidevineInitData("webm", (_check_key_id(data, "webm key id"),))


def parse_init_data(init_data_type: str, data: bytes) -> WidevineInitData:
    """Check ``data`` for its type and return what it names (``InvalidInitDataError`` if bad)."""
    if init_data_type == "cenc":
        return parse_cenc(data)
    if init_data_type == "keyids":
        return parse_keyids(data)
    if init_data_type == "webm":
        return parse_webm(data)
    raise InvalidInitDataError(f"Widevine has no init data type {init_data_type!r}")


def make_widevine_pssh(
    key_ids: list[bytes] | tuple[bytes, ...],
    *,
    provider: str | None = None,
    content_id: bytes | None = None,
    protection_scheme: str | None = "cenc",
) -> bytes:
    """Build a v0 Widevine ``pssh`` box whose ``WidevinePsshData`` lists ``key_ids``."""
    data = encode_pssh_data(
        key_ids, provider=provider, content_id=content_id, protection_scheme=protection_scheme
    )
    return build_pssh_box(WIDEVINE_SYSTEM_ID, data)


def init_data_for_cdm(init_data_type: str, data: bytes) -> tuple[str, bytes]:
    """Return the ``(type, data)`` to construct the CDM session with.

    ``keyids`` becomes a Widevine PSSH box listing the same key ids, which is how a Widevine CDM
    is asked for keys by id; anything else (``cenc``, ``webm``, a load's session id) goes through
    unchanged.
    """
    if init_data_type == "keyids":
        return "cenc", make_widevine_pssh(parse_keyids(data).key_ids)
    return init_data_type, data
