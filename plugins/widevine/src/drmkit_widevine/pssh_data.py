"""Widevine PSSH data (``WidevinePsshData`` protobuf): decoding, checking, encoding.

Decoding uses protobuf's own runtime with the schema in ``proto/widevine_pssh_data.proto`` (the
generated module is committed in ``_generated/``; ``scripts/regenerate`` rebuilds it). The runtime
rejects what is not protobuf (truncated varints, lengths past the end, bad wire types); unknown
fields are kept aside and reported, never fatal, since real headers carry fields newer than any
schema. proto2 does not validate UTF-8: invalid text in string fields is shown escaped.

Checks beyond the wire format (:func:`check_for_request`): key ids are 1..16 bytes (the OCDM key
id limit); repeated key ids are dropped keeping the first occurrence (real packagers repeat them);
``protection_scheme`` must be one of the four CENC FourCCs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drmkit.sdk import InvalidInitDataError
from google.protobuf.message import DecodeError
from google.protobuf.unknown_fields import UnknownFieldSet

from drmkit_widevine._generated.widevine_pssh_data_pb2 import WidevinePsshData

WIDEVINE_SYSTEM_ID = bytes.fromhex("edef8ba979d64acea3c827dcd51d21ed")
"""The Widevine PSSH system id ``edef8ba9-79d6-4ace-a3c8-27dcd51d21ed``."""

MAX_KEY_ID_SIZE = 16
"""OCDM key ids are at most 16 bytes (Widevine's are exactly 16)."""

_GROUP_WIRE_TYPES = (3, 4)

PROTECTION_SCHEMES = frozenset({"cenc", "cbc1", "cens", "cbcs"})


def fourcc_to_int(fourcc: str) -> int:
    """Return the big-endian uint32 of a FourCC (``"cenc"`` → ``0x63656E63``)."""
    raw = fourcc.encode("ascii")
    if len(raw) != 4:
        raise ValueError(f"a FourCC is 4 ASCII characters, not {fourcc!r}")
    return int.from_bytes(raw, "big")


def int_to_fourcc(value: int) -> str | None:
    """Return the FourCC a uint32 spells, or ``None`` if its bytes are not printable ASCII."""
    raw = value.to_bytes(4, "big")
    return raw.decode("ascii") if all(0x20 < b < 0x7F for b in raw) else None


@dataclass(frozen=True, slots=True)
class WidevineHeader:
    """The decoded fields of one ``WidevinePsshData``.

    ``key_ids`` keep the header's order and repetitions (``unique_key_ids`` drops repeats);
    ``protection_scheme`` is the FourCC, or the raw number when it spells none;
    ``unknown_fields`` lists field numbers the schema does not know.
    """

    key_ids: tuple[bytes, ...] = ()
    provider: str | None = None
    content_id: bytes | None = None
    policy: str | None = None
    algorithm: int | None = None
    protection_scheme: str | int | None = None
    crypto_period_index: int | None = None
    crypto_period_seconds: int | None = None
    type: str = "SINGLE"
    group_ids: tuple[bytes, ...] = ()
    entitled_key_ids: tuple[bytes, ...] = ()
    video_feature: str | None = None
    unknown_fields: tuple[int, ...] = field(default=())

    @property
    def unique_key_ids(self) -> tuple[bytes, ...]:
        """``key_ids`` without repetitions, in first-seen order."""
        return tuple(dict.fromkeys(self.key_ids))

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly description (hex key ids and content id)."""
        out: dict[str, Any] = {
            "key_ids": [k.hex() for k in self.unique_key_ids],
            "type": self.type,
        }
        if len(self.unique_key_ids) != len(self.key_ids):
            out["repeated_key_ids"] = len(self.key_ids) - len(self.unique_key_ids)
        optional: dict[str, Any] = {
            "provider": self.provider,
            "content_id": self.content_id.hex() if self.content_id is not None else None,
            "content_id_text": _printable(self.content_id),
            "policy": self.policy,
            "algorithm": self.algorithm,
            "protection_scheme": self.protection_scheme,
            "crypto_period_index": self.crypto_period_index,
            "crypto_period_seconds": self.crypto_period_seconds,
            "video_feature": self.video_feature,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        if self.group_ids:
            out["group_ids"] = [g.hex() for g in self.group_ids]
        if self.entitled_key_ids:
            out["entitled_key_ids"] = [k.hex() for k in self.entitled_key_ids]
        if self.unknown_fields:
            out["unknown_fields"] = list(self.unknown_fields)
        return out


def _printable(data: bytes | None) -> str | None:
    """Return ``data`` as text when it is printable UTF-8 (content ids are often JSON or base64)."""
    if not data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if text.isprintable() else None


def _optional(message: WidevinePsshData, name: str) -> Any:
    return getattr(message, name) if message.HasField(name) else None


def _optional_text(message: WidevinePsshData, name: str) -> str | None:
    # proto2 does not validate UTF-8 and the runtime then hands out bytes: keep them visible.
    value = _optional(message, name)
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return None if value is None else str(value)


def decode_pssh_data(data: bytes) -> WidevineHeader:
    """Decode ``WidevinePsshData`` bytes; ``InvalidInitDataError`` if they are not protobuf."""
    message = WidevinePsshData()
    try:
        message.ParseFromString(data)
        unknown_set = UnknownFieldSet(message)
        unknown_fields = [unknown_set[i] for i in range(len(unknown_set))]
    except (DecodeError, RecursionError) as exc:
        raise InvalidInitDataError(f"Widevine PSSH data is not a WidevinePsshData: {exc}") from None
    if any(f.wire_type in _GROUP_WIRE_TYPES for f in unknown_fields):
        # Groups are deprecated proto2 encoding; no Widevine header uses them and the CDM's own
        # parser refuses them, so refuse them before the CDM does.
        raise InvalidInitDataError("Widevine PSSH data uses the deprecated group encoding")
    unknown = tuple(sorted({f.field_number for f in unknown_fields}))
    try:
        scheme_value = _optional(message, "protection_scheme")
        header = WidevineHeader(
            key_ids=tuple(message.key_ids),
            provider=_optional_text(message, "provider"),
            content_id=_optional(message, "content_id"),
            policy=_optional_text(message, "policy"),
            algorithm=_optional(message, "algorithm"),
            protection_scheme=(
                None if scheme_value is None else (int_to_fourcc(scheme_value) or int(scheme_value))
            ),
            crypto_period_index=_optional(message, "crypto_period_index"),
            crypto_period_seconds=_optional(message, "crypto_period_seconds"),
            type=WidevinePsshData.Type.Name(message.type),
            group_ids=tuple(message.group_ids),
            entitled_key_ids=tuple(k.key_id for k in message.entitled_keys if k.HasField("key_id")),
            video_feature=_optional_text(message, "video_feature"),
            unknown_fields=unknown,
        )
    except ValueError as exc:  # e.g. an enum value the schema has no name for
        raise InvalidInitDataError(f"Widevine PSSH data has an unusable field: {exc}") from None
    return header


def check_for_request(header: WidevineHeader, where: str = "Widevine PSSH data") -> None:
    """Raise ``InvalidInitDataError`` if ``header`` cannot name what a license request needs."""
    for index, key_id in enumerate(header.key_ids):
        if not 1 <= len(key_id) <= MAX_KEY_ID_SIZE:
            raise InvalidInitDataError(
                f"{where}: key id #{index} is {len(key_id)} bytes (1..{MAX_KEY_ID_SIZE} allowed)"
            )
    scheme = header.protection_scheme
    if scheme is not None and scheme not in PROTECTION_SCHEMES:
        shown = f"0x{scheme:08x}" if isinstance(scheme, int) else repr(scheme)
        raise InvalidInitDataError(
            f"{where}: protection_scheme {shown} is not one of {sorted(PROTECTION_SCHEMES)}"
        )


def encode_pssh_data(
    key_ids: list[bytes] | tuple[bytes, ...],
    *,
    provider: str | None = None,
    content_id: bytes | None = None,
    protection_scheme: str | None = None,
) -> bytes:
    """Encode a ``WidevinePsshData`` (the license helper's test init data)."""
    message = WidevinePsshData(key_ids=list(key_ids))
    if provider is not None:
        message.provider = provider
    if content_id is not None:
        message.content_id = content_id
    if protection_scheme is not None:
        message.protection_scheme = fourcc_to_int(protection_scheme)
    return message.SerializeToString(deterministic=True)
