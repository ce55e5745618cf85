"""PlayReady DRM headers (``WRMHEADER`` XML, versions 4.0.0.0 to 4.3.0.0).

A header is UTF-16LE XML (a leading BOM is tolerated). Where the versions differ:

- 4.0: one ``DATA/KID`` element (required), ``DATA/PROTECTINFO/ALGID``/``KEYLEN``,
  ``DATA/CHECKSUM``;
- 4.1: at most one ``DATA/PROTECTINFO/KID`` with ``VALUE``, ``ALGID``, ``CHECKSUM`` attributes;
- 4.2 / 4.3: ``DATA/PROTECTINFO/KIDS/KID`` elements (none is legal: a header may leave the KIDs
  to the license).

KIDs are base64 of GUIDs in little-endian (``bytes_le``) order; drmkit shows and compares them in
CENC byte order (the big-endian UUID bytes that ``tenc`` and ``pssh`` v1 use). ``LA_URL`` and
``LUI_URL`` come back with XML entities resolved by the parser (``&amp;`` becomes ``&``).

The XML is parsed with :mod:`defusedxml`: a DTD, an entity declaration or an external reference is
refused before anything is expanded (no XXE, no billion laughs).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import defusedxml.ElementTree as SafeElementTree
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import DefusedXmlException
from drmkit.sdk import InvalidInitDataError

VERSIONS = ("4.0.0.0", "4.1.0.0", "4.2.0.0", "4.3.0.0")
"""The WRMHEADER versions drmkit understands."""
MAX_HEADER_BYTES = 65535
"""A PlayReady object record length is a u16: no header is longer."""
_BOM = b"\xff\xfe"


class HeaderError(InvalidInitDataError):
    """A DRM header that is not a well-formed WRMHEADER of a known version."""


@dataclass(frozen=True, slots=True)
class HeaderKid:
    """One KID of a header, with its algorithm and checksum if the header gives them."""

    key_id: bytes
    """The KID in CENC byte order (16 bytes)."""
    algorithm: str | None
    checksum: bytes | None

    @property
    def guid_bytes(self) -> bytes:
        """The KID in PlayReady's little-endian GUID order (what the checksum is computed on)."""
        return uuid.UUID(bytes=self.key_id).bytes_le

    def expected_checksum(self, key: bytes) -> bytes:
        """Return the checksum ``key`` gives this KID (``HeaderError`` for an unknown algorithm).

        AESCTR: the first 8 bytes of AES-128-ECB(key, KID in GUID order). COCKTAIL: the first 7
        bytes of SHA-1 applied five times to the key zero-padded to 21 bytes.
        """
        if len(key) != 16:
            raise ValueError(f"a content key is 16 bytes, not {len(key)}")
        algorithm = (self.algorithm or "AESCTR").upper()
        if algorithm == "AESCTR":
            encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
            return (encryptor.update(self.guid_bytes) + encryptor.finalize())[:8]
        if algorithm == "COCKTAIL":
            buffer = key.ljust(21, b"\x00")
            for _ in range(5):
                buffer = hashlib.sha1(buffer).digest()
            return buffer[:7]
        raise HeaderError(f"no checksum is defined for algorithm {self.algorithm!r}")

    def verify(self, key: bytes) -> bool:
        """Tell whether ``key`` matches the checksum (``True`` when the header gives none)."""
        if self.checksum is None:
            return True
        return self.expected_checksum(key) == self.checksum

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict."""
        return {
            "kid": self.key_id.hex(),
            "kid_uuid": str(uuid.UUID(bytes=self.key_id)),
            "kid_base64": base64.b64encode(self.guid_bytes).decode("ascii"),
            "algorithm": self.algorithm,
            "checksum": base64.b64encode(self.checksum).decode("ascii")
            if self.checksum is not None
            else None,
        }


@dataclass(frozen=True, slots=True)
class PlayReadyHeader:
    """A decoded WRMHEADER."""

    version: str
    kids: tuple[HeaderKid, ...]
    la_url: str | None = None
    lui_url: str | None = None
    ds_id: str | None = None
    key_length: int | None = None
    decryptor_setup: str | None = None
    custom_attributes: dict[str, str] = field(default_factory=dict)
    xml: str = ""

    @property
    def key_ids(self) -> tuple[bytes, ...]:
        """The KIDs in CENC byte order, repeats dropped in order."""
        return tuple(dict.fromkeys(k.key_id for k in self.kids))

    def check_key(self, key_id: bytes, key: bytes) -> None:
        """Raise ``HeaderError`` if the header's checksum for ``key_id`` does not match ``key``."""
        for kid in self.kids:
            if kid.key_id == key_id and not kid.verify(key):
                raise HeaderError(
                    f"the key given for KID {key_id.hex()} does not match the header's CHECKSUM"
                )

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict (``drmkit inspect``)."""
        return {
            "version": self.version,
            "kids": [k.as_dict() for k in self.kids],
            "la_url": self.la_url,
            "lui_url": self.lui_url,
            "ds_id": self.ds_id,
            "key_length": self.key_length,
            "decryptor_setup": self.decryptor_setup,
            "custom_attributes": dict(self.custom_attributes),
        }


def decode_utf16(data: bytes) -> str:
    """Decode header bytes as UTF-16LE (BOM optional); ``HeaderError`` names what is wrong."""
    if not data:
        raise HeaderError("the DRM header is empty")
    if len(data) > MAX_HEADER_BYTES:
        raise HeaderError(f"the DRM header is {len(data)} bytes (at most {MAX_HEADER_BYTES})")
    body = data[2:] if data.startswith(_BOM) else data
    if data.startswith(b"\xfe\xff"):
        raise HeaderError("the DRM header is UTF-16 big-endian; PlayReady headers are UTF-16LE")
    if body[:1] == b"<" and body[1:2] not in (b"\x00", b""):
        raise HeaderError(
            "the DRM header looks like UTF-8 or ASCII; PlayReady headers are UTF-16LE"
        )
    if len(body) % 2:
        raise HeaderError(f"the DRM header has an odd byte count ({len(data)}): not UTF-16LE")
    try:
        text = body.decode("utf-16-le")
    except UnicodeDecodeError as exc:
        raise HeaderError(f"the DRM header is not valid UTF-16LE: {exc.reason}") from None
    text = text.rstrip("\x00")  # some packagers terminate the string
    if "\x00" in text:
        raise HeaderError("the DRM header contains a NUL character")
    return text


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(parent: ElementTree.Element | None, *path: str) -> ElementTree.Element | None:
    node = parent
    for name in path:
        if node is None:
            return None
        node = next((c for c in node if _local(c.tag) == name), None)
    return node


def _children(parent: ElementTree.Element | None, name: str) -> list[ElementTree.Element]:
    return [] if parent is None else [c for c in parent if _local(c.tag) == name]


def _text(parent: ElementTree.Element | None, *path: str) -> str | None:
    node = _child(parent, *path)
    if node is None:
        return None
    return (node.text or "").strip()


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise HeaderError(f"{what} is not base64: {text[:40]!r}") from None


def _kid(value: str | None, algorithm: str | None, checksum: str | None, where: str) -> HeaderKid:
    if not value:
        raise HeaderError(f"{where} has no KID value")
    raw = _b64(value, f"{where} KID")
    if len(raw) != 16:
        raise HeaderError(f"{where} KID is {len(raw)} bytes, not a 16-byte GUID")
    checksum_bytes = _b64(checksum, f"{where} CHECKSUM") if checksum else None
    if checksum_bytes is not None and not 1 <= len(checksum_bytes) <= 8:
        raise HeaderError(f"{where} CHECKSUM is {len(checksum_bytes)} bytes (at most 8)")
    return HeaderKid(uuid.UUID(bytes_le=raw).bytes, algorithm or None, checksum_bytes)


def _parse_xml(text: str) -> ElementTree.Element:
    try:
        root = SafeElementTree.fromstring(text, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise HeaderError(f"the DRM header declares a DTD or entities, refused: {exc}") from None
    except (ElementTree.ParseError, ValueError) as exc:
        raise HeaderError(f"the DRM header is not well-formed XML: {exc}") from None
    return root


def _custom_attributes(data: ElementTree.Element | None) -> dict[str, str]:
    node = _child(data, "CUSTOMATTRIBUTES")
    if node is None:
        return {}
    out: dict[str, str] = {}
    for child in node:
        name = _local(child.tag)
        out[name] = "".join(child.itertext()).strip()
        for attr, value in child.attrib.items():
            out[f"{name}@{_local(attr)}"] = value
    return out


def parse_header_text(text: str) -> PlayReadyHeader:
    """Parse WRMHEADER XML text."""
    root = _parse_xml(text)
    if _local(root.tag) != "WRMHEADER":
        raise HeaderError(f"the DRM header's root is <{_local(root.tag)}>, not <WRMHEADER>")
    version = root.get("version")
    if version not in VERSIONS:
        raise HeaderError(f"unknown WRMHEADER version {version!r} (known: {', '.join(VERSIONS)})")
    data = _child(root, "DATA")
    if data is None:
        raise HeaderError("the WRMHEADER has no <DATA>")
    protect = _child(data, "PROTECTINFO")
    kids: list[HeaderKid] = []
    key_length: str | None = None
    if version == "4.0.0.0":
        value = _text(data, "KID")
        if not value:
            raise HeaderError("a v4.0 WRMHEADER needs a <KID>")
        kids.append(_kid(value, _text(protect, "ALGID"), _text(data, "CHECKSUM"), "v4.0 header"))
        key_length = _text(protect, "KEYLEN")
    else:
        if version == "4.1.0.0":
            elements = _children(protect, "KID")
            if len(elements) > 1:
                raise HeaderError("a v4.1 WRMHEADER has at most one <KID>")
        else:
            elements = _children(_child(protect, "KIDS"), "KID")
        for index, element in enumerate(elements):
            kids.append(
                _kid(
                    element.get("VALUE"),
                    element.get("ALGID"),
                    element.get("CHECKSUM"),
                    f"v{version[:3]} header KID #{index}",
                )
            )
    try:
        length = int(key_length) if key_length else None
    except ValueError:
        raise HeaderError(f"KEYLEN is not a number: {key_length!r}") from None
    return PlayReadyHeader(
        version=version,
        kids=tuple(kids),
        la_url=_text(data, "LA_URL"),
        lui_url=_text(data, "LUI_URL"),
        ds_id=_text(data, "DS_ID"),
        key_length=length,
        decryptor_setup=_text(data, "DECRYPTORSETUP"),
        custom_attributes=_custom_attributes(data),
        xml=text,
    )


def parse_header(data: bytes) -> PlayReadyHeader:
    """Parse a WRMHEADER given as UTF-16LE bytes (``HeaderError`` if it is not one)."""
    return parse_header_text(decode_utf16(bytes(data)))


def _escape(text: str) -> str:
    return xml_escape(text, {'"': "&quot;"})


def build_header(
    key_ids: list[bytes] | tuple[bytes, ...],
    *,
    version: str = "4.3.0.0",
    keys: dict[bytes, bytes] | None = None,
    la_url: str | None = None,
    lui_url: str | None = None,
    algorithm: str = "AESCTR",
    custom_attributes: dict[str, str] | None = None,
) -> bytes:
    """Build a WRMHEADER (UTF-16LE) for ``key_ids`` (CENC order); checksums from ``keys``.

    Used by the license helper, the demo and the tests. Version 4.0 needs exactly one KID and
    version 4.1 at most one.
    """
    if version not in VERSIONS:
        raise ValueError(f"unknown WRMHEADER version {version!r}")
    keys = keys or {}
    entries = []
    for kid in key_ids:
        header_kid = HeaderKid(bytes(kid), algorithm, None)
        checksum = None
        if kid in keys:
            checksum = base64.b64encode(header_kid.expected_checksum(keys[kid])).decode()
        entries.append((base64.b64encode(header_kid.guid_bytes).decode(), checksum))
    parts = [
        '<WRMHEADER xmlns="http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader"'
        f' version="{version}"><DATA>'
    ]
    if version == "4.0.0.0":
        if len(entries) != 1:
            raise ValueError("a v4.0 header has exactly one KID")
        value, checksum = entries[0]
        parts.append(f"<PROTECTINFO><KEYLEN>16</KEYLEN><ALGID>{algorithm}</ALGID></PROTECTINFO>")
        parts.append(f"<KID>{value}</KID>")
        if checksum:
            parts.append(f"<CHECKSUM>{checksum}</CHECKSUM>")
    else:
        if version == "4.1.0.0" and len(entries) > 1:
            raise ValueError("a v4.1 header has at most one KID")
        kid_xml = "".join(
            f'<KID ALGID="{algorithm}" VALUE="{value}"'
            + (f' CHECKSUM="{checksum}"' if checksum else "")
            + "></KID>"
            for value, checksum in entries
        )
        if version != "4.1.0.0":
            kid_xml = f"<KIDS>{kid_xml}</KIDS>"
        parts.append(f"<PROTECTINFO>{kid_xml}</PROTECTINFO>")
    if la_url is not None:
        parts.append(f"<LA_URL>{_escape(la_url)}</LA_URL>")
    if lui_url is not None:
        parts.append(f"<LUI_URL>{_escape(lui_url)}</LUI_URL>")
    if custom_attributes:
        inner = "".join(f"<{k}>{_escape(v)}</{k}>" for k, v in custom_attributes.items())
        parts.append(f"<CUSTOMATTRIBUTES>{inner}</CUSTOMATTRIBUTES>")
    parts.append("</DATA></WRMHEADER>")
    return "".join(parts).encode("utf-16-le")
