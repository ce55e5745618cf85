"""Key checks before decrypting: missing keys, and wrong keys where the format can prove it.

A PlayReady header (in a PlayReady ``pssh`` or a bare PlayReady object) may carry, per KID, a
CHECKSUM: the first 8 bytes of AES-128-ECB(content key, KID in GUID byte order). For AESCTR keys it
proves a given key wrong before a single sample is decrypted into garbage.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from drmkit.media.errors import MissingKeyError, WrongKeyError
from drmkit.media.model import MediaFile
from drmkit.sdk.pssh import PLAYREADY_SYSTEM_ID, PsshBox

_WRM_HEADER_RECORD = 1
# Attribute form (v4.1+): <KID ALGID="AESCTR" CHECKSUM="..." VALUE="..."> in any order.
_KID_TAG = re.compile(r"<KID\b([^>]*)>", re.IGNORECASE)
_ATTR = re.compile(r'(\w+)\s*=\s*"([^"]*)"')
# Element form (v4.0): <KID>b64</KID> ... <CHECKSUM>b64</CHECKSUM> ... <ALGID>AESCTR</ALGID>
_ELEMENT = re.compile(r"<(KID|CHECKSUM|ALGID)>\s*([^<]*?)\s*</\1>", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class KeyChecksum:
    """A KID (CENC byte order) with the checksum its PlayReady header declares."""

    key_id: bytes
    checksum: bytes
    algorithm: str


def playready_checksums(pro: bytes) -> list[KeyChecksum]:
    """Return the (KID, CHECKSUM) pairs of a PlayReady object; malformed data gives none."""
    out: list[KeyChecksum] = []
    if len(pro) < 6:
        return out
    count = struct.unpack_from("<H", pro, 4)[0]
    pos = 6
    for _ in range(count):
        if pos + 4 > len(pro):
            break
        kind, length = struct.unpack_from("<HH", pro, pos)
        value = pro[pos + 4 : pos + 4 + length]
        pos += 4 + length
        if kind != _WRM_HEADER_RECORD:
            continue
        try:
            xml = value.decode("utf-16-le")
        except UnicodeDecodeError:
            continue
        out.extend(_checksums_of_header(xml))
    return out


def _guid_kid(text: str) -> bytes | None:
    try:
        raw = base64.b64decode(text, validate=True)
        return uuid.UUID(bytes_le=raw).bytes if len(raw) == 16 else None
    except (binascii.Error, ValueError):
        return None


def _checksums_of_header(xml: str) -> list[KeyChecksum]:
    out = []
    for match in _KID_TAG.finditer(xml):
        attrs = {k.upper(): v for k, v in _ATTR.findall(match.group(1))}
        kid = _guid_kid(attrs.get("VALUE", ""))
        checksum = attrs.get("CHECKSUM")
        if kid is not None and checksum:
            try:
                out.append(
                    KeyChecksum(kid, base64.b64decode(checksum), attrs.get("ALGID", "AESCTR"))
                )
            except ValueError:  # binascii.Error or non-ASCII text
                continue
    if out:
        return out
    fields: dict[str, str] = {}
    for name, value in _ELEMENT.findall(xml):
        fields.setdefault(name.upper(), value)
    kid = _guid_kid(fields.get("KID", ""))
    if kid is not None and fields.get("CHECKSUM"):
        try:
            checksum = base64.b64decode(fields["CHECKSUM"])
        except ValueError:  # binascii.Error or non-ASCII text
            return out
        out.append(KeyChecksum(kid, checksum, fields.get("ALGID", "AESCTR")))
    return out


def key_checksum(key: bytes, key_id: bytes) -> bytes:
    """Return the PlayReady AESCTR checksum of ``key`` for ``key_id`` (CENC byte order)."""
    # Imported here: only files with a PlayReady header need it, and the CLI starts faster.
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    guid = uuid.UUID(bytes=key_id).bytes_le
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return (encryptor.update(guid) + encryptor.finalize())[:8]


def check_wrong_keys(pssh: Iterable[PsshBox], keys: Mapping[bytes, bytes]) -> None:
    """Raise :class:`WrongKeyError` if a PlayReady CHECKSUM proves a given key wrong."""
    for box in pssh:
        if box.system_id != PLAYREADY_SYSTEM_ID:
            continue
        for entry in playready_checksums(box.data):
            key = keys.get(entry.key_id)
            if key is None or entry.algorithm.upper() != "AESCTR":
                continue
            if key_checksum(key, entry.key_id) != entry.checksum[:8]:
                raise WrongKeyError(
                    entry.key_id,
                    "it does not match the CHECKSUM of the PlayReady header "
                    f"(pssh at offset {box.offset})",
                )


def check_missing_keys(media: MediaFile, keys: Mapping[bytes, bytes]) -> None:
    """Raise :class:`MissingKeyError` naming the first track and KID its samples need."""
    for track in media.tracks.values():
        needed = {s.key_id for s in track.samples if s.scheme is not None}
        for key_id in track.key_ids():
            if key_id in needed and any(key_id) and key_id not in keys:
                raise MissingKeyError(track.track_id, key_id)
