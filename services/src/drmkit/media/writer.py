"""Write the clear MP4 of a decrypted buffer.

The writer rebuilds only the boxes on the path to something it changes and copies everything else
as memory views of the input buffer (sample data is never copied). It removes every encryption box
(``sinf``, ``senc`` and PIFF ``senc``, ``saiz``/``saio``, ``pssh`` and PIFF ``pssh``,
``sbgp``/``sgpd``
of grouping type ``seig``), restores ``encv``/``enca`` entries to their original format (``frma``),
recomputes every box size, and then moves every absolute and relative data reference that the
removals shifted: ``stco``/``co64`` chunk offsets, ``tfhd`` base data offsets, ``trun`` data
offsets, ``sidx`` reference sizes and first offset, and ``tfra`` fragment offsets.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from drmkit.media.boxes import Box, Cursor, children, iter_boxes
from drmkit.media.errors import MediaFormatError
from drmkit.media.model import MediaFile
from drmkit.media.parser import (
    PIFF_SENC_UUID,
    PROTECTED_ENTRY_TYPES,
    sample_entry_children_offset,
)
from drmkit.sdk.pssh import PIFF_PSSH_UUID

Buffer = bytes | bytearray | memoryview

#: Containers on the path to boxes the writer removes or rewrites.
_CONTAINERS = {"moov", "trak", "mdia", "minf", "stbl", "moof", "traf", "mfra"}
_ENCRYPTION_BOXES = {"senc", "saiz", "saio", "pssh"}
_PIFF_UUIDS = {PIFF_SENC_UUID, PIFF_PSSH_UUID}
_SEIG = b"seig"


@dataclass(slots=True)
class _Node:
    """One output box: either raw bytes (``payload``) or a container of ``children``."""

    type: str
    old_start: int
    header_extra: bytes = b""
    prefix: bytes | memoryview = b""
    payload: bytearray | memoryview | bytes | None = None
    children: list[_Node] = field(default_factory=list)
    large: bool = False
    new_start: int = 0
    size: int = 0
    patch: Callable[[_Node], None] | None = None
    #: Where ``payload`` lies in the input while it is the input's own bytes (-1: rewritten).
    origin: int = -1
    original: memoryview | None = None

    def header_size(self, body: int) -> int:
        """Header bytes the node needs (16 when a 64-bit size is needed or was used)."""
        small = 8 + len(self.header_extra)
        return small + 8 if self.large or small + body > 0xFFFFFFFF else small


class _OffsetMap:
    """Maps an offset of the input to the output, through the top-level box that holds it."""

    def __init__(self, nodes: list[_Node], old_size: int) -> None:
        self.old_starts = [n.old_start for n in nodes]
        self.nodes = nodes
        self.old_size = old_size
        self.new_size = sum(n.size for n in nodes)

    def __call__(self, old: int) -> int:
        if old == self.old_size:
            return self.new_size
        i = bisect.bisect_right(self.old_starts, old) - 1
        if i < 0:
            raise MediaFormatError("data reference before the first box", old)
        node = self.nodes[i]
        return node.new_start + (old - node.old_start)


class ClearWriter:
    """Builds the clear layout of a parsed, decrypted buffer and writes it to a stream."""

    def __init__(self, buf: Buffer, media: MediaFile) -> None:
        self.buf = memoryview(buf)
        self.media = media
        self.handlers = {tid: t.handler for tid, t in media.tracks.items()}
        self.top: list[_Node] = []
        self.moof_of: dict[int, _Node] = {}

    def build(self) -> None:
        """Compute the output tree, its layout and every moved data reference."""
        self.top = [self._node(box, None) for box in iter_boxes(self.buf, 0, len(self.buf))]
        pos = 0
        for node in self.top:
            _layout(node, pos)
            pos += node.size
        self.map = _OffsetMap(self.top, len(self.buf))
        for node in self.top:
            _apply_patches(node)

    def write(self, out: BinaryIO) -> int:
        """Write the clear file from the (decrypted) buffer; return the bytes written."""
        written = 0
        for piece in self.plan():
            if isinstance(piece, InputRange):
                out.write(self.buf[piece.start : piece.end])
                written += piece.end - piece.start
            else:
                out.write(piece)
                written += len(piece)
        return written

    def plan(self) -> list[bytes | InputRange]:
        """Return the output as pieces in order: new bytes, or ranges copied from the input.

        Unchanged payloads (all media data among them) are ranges, so a streaming writer can
        copy them kernel-side or decrypt them window by window without holding the file.
        """
        if not self.top:
            self.build()
        plan = _Plan()
        for node in self.top:
            _emit(node, plan)
        return plan.pieces_done

    # -- tree building ----------------------------------------------------------------------------

    def _node(self, box: Box, moof: _Node | None, handler: str = "") -> _Node:
        extra = box.user_type
        if box.type in _CONTAINERS:
            node = _Node(box.type, box.start, extra, large=box.large)
            moof_here = node if box.type == "moof" else moof
            if box.type == "trak":
                handler = self._trak_handler(box)
            for child in children(self.buf, box):
                if _is_encryption_box(self.buf, child):
                    continue
                node.children.append(self._node(child, moof_here, handler))
            if box.type == "traf":
                _attach_traf_patches(self, node, moof_here)
            return node
        if box.type == "stsd":
            return self._stsd(box, handler)
        view = self.buf[box.payload_start : box.end]
        node = _Node(box.type, box.start, extra, payload=view, large=box.large,
                     origin=box.payload_start, original=view)  # fmt: skip
        if box.type in ("stco", "co64"):
            node.patch = self._patch_chunk_offsets
        elif box.type == "sidx":
            node.patch = self._patch_sidx
        elif box.type == "tfra":
            node.patch = self._patch_tfra
        return node

    def _trak_handler(self, trak: Box) -> str:
        for box in children(self.buf, trak):
            if box.type == "mdia":
                for sub in children(self.buf, box):
                    if sub.type == "hdlr":
                        cur = Cursor.of(self.buf, sub)
                        cur.skip(8, "hdlr header")
                        return cur.read(4, "handler_type").decode("latin-1")
        return ""

    def _stsd(self, stsd: Box, handler: str) -> _Node:
        fields = self.buf[stsd.payload_start : stsd.payload_start + 8]
        node = _Node("stsd", stsd.start, prefix=fields, large=stsd.large)
        for entry in iter_boxes(self.buf, stsd.payload_start + 8, stsd.end):
            if entry.type not in PROTECTED_ENTRY_TYPES:
                node.children.append(
                    _Node(entry.type, entry.start, entry.user_type,
                          payload=self.buf[entry.payload_start : entry.end], large=entry.large)
                )  # fmt: skip
                continue
            skip = sample_entry_children_offset(self.buf, entry, handler)
            original = entry.type
            kept: list[_Node] = []
            for child in children(self.buf, entry, skip):
                if child.type == "sinf":
                    for sub in children(self.buf, child):
                        if sub.type == "frma":
                            original = (
                                Cursor.of(self.buf, sub).read(4, "data_format").decode("latin-1")
                            )
                    continue
                kept.append(_Node(child.type, child.start, child.user_type,
                                  payload=self.buf[child.payload_start : child.end],
                                  large=child.large))  # fmt: skip
            fields = self.buf[entry.payload_start : entry.payload_start + skip]
            node.children.append(
                _Node(original, entry.start, prefix=fields, children=kept, large=entry.large)
            )
        return node

    # -- patches ----------------------------------------------------------------------------------

    def _patch_chunk_offsets(self, node: _Node) -> None:
        data = bytearray(_payload(node))
        width = 4 if node.type == "stco" else 8
        fmt = ">I" if width == 4 else ">Q"
        count = struct.unpack_from(">I", data, 4)[0]
        for i in range(count):
            pos = 8 + i * width
            (old,) = struct.unpack_from(fmt, data, pos)
            struct.pack_into(fmt, data, pos, self.map(old))
        node.payload = data

    def _patch_sidx(self, node: _Node) -> None:
        data = bytearray(_payload(node))
        version = data[0]
        pos = 12  # version/flags, reference_ID, timescale
        pos += 8 if version == 0 else 16
        fmt = ">I" if version == 0 else ">Q"
        first_offset_pos = pos - (4 if version == 0 else 8)
        (first_offset,) = struct.unpack_from(fmt, data, first_offset_pos)
        old_anchor = node.old_start + self._old_size(node)
        start = old_anchor + first_offset
        new_first = self.map(start) - (node.new_start + node.size)
        struct.pack_into(fmt, data, first_offset_pos, max(new_first, 0))
        count = struct.unpack_from(">H", data, pos + 2)[0]
        pos += 4
        for _ in range(count):
            (word,) = struct.unpack_from(">I", data, pos)
            old_size = word & 0x7FFFFFFF
            new_size = self.map(start + old_size) - self.map(start)
            struct.pack_into(">I", data, pos, (word & 0x80000000) | (new_size & 0x7FFFFFFF))
            start += old_size
            pos += 12
        node.payload = data

    def _patch_tfra(self, node: _Node) -> None:
        data = bytearray(_payload(node))
        version = data[0]
        (_, lengths, count) = struct.unpack_from(">III", data, 4)
        widths = (((lengths >> 4) & 3) + 1, ((lengths >> 2) & 3) + 1, (lengths & 3) + 1)
        fmt = ">Q" if version == 1 else ">I"
        pos = 16
        for _ in range(count):
            pos += 8 if version == 1 else 4  # time
            (old,) = struct.unpack_from(fmt, data, pos)
            struct.pack_into(fmt, data, pos, self.map(old))
            pos += (8 if version == 1 else 4) + sum(widths)
        node.payload = data

    def _old_size(self, node: _Node) -> int:
        box = next(iter_boxes(self.buf, node.old_start, len(self.buf)))
        return box.size


def _attach_traf_patches(writer: ClearWriter, traf: _Node, moof: _Node | None) -> None:
    """Queue the fix-up of the base data offset and trun data offsets of one 'traf'."""
    if moof is None:
        return
    tfhd = next((c for c in traf.children if c.type == "tfhd"), None)
    if tfhd is None:
        return
    flags = int.from_bytes(_payload(tfhd)[1:4], "big")
    truns = [c for c in traf.children if c.type == "trun"]
    explicit = bool(flags & 0x1)
    old_base = writer.media.traf_bases.get(traf.old_start, moof.old_start)

    def patch_tfhd(node: _Node) -> None:
        data = bytearray(_payload(node))
        struct.pack_into(">Q", data, 8, writer.map(old_base))
        node.payload = data

    def patch_trun(node: _Node) -> None:
        data = bytearray(_payload(node))
        if not int.from_bytes(data[1:4], "big") & 0x1:
            return
        (offset,) = struct.unpack_from(">i", data, 8)
        old_abs = old_base + offset
        new_base = moof.new_start if old_base == moof.old_start else writer.map(old_base)
        struct.pack_into(">i", data, 8, writer.map(old_abs) - new_base)
        node.payload = data

    if explicit:
        tfhd.patch = patch_tfhd
    for trun in truns:
        trun.patch = patch_trun


def _is_encryption_box(buf: memoryview, box: Box) -> bool:
    if box.type in _ENCRYPTION_BOXES:
        return True
    if box.type == "uuid":
        return box.user_type in _PIFF_UUIDS
    if box.type in ("sbgp", "sgpd"):
        return bytes(buf[box.payload_start + 4 : box.payload_start + 8]) == _SEIG
    return False


def _payload(node: _Node) -> bytes | bytearray | memoryview:
    assert node.payload is not None
    return node.payload


def _body_size(node: _Node) -> int:
    if node.payload is not None:
        return len(node.payload)
    return len(node.prefix) + sum(c.size for c in node.children)


def _layout(node: _Node, start: int) -> None:
    node.new_start = start
    pos = start
    if node.payload is None:
        # Children sizes first (their own headers may grow to 64-bit), then ours.
        for child in node.children:
            _size(child)
    _size(node)
    pos = start + node.header_size(_body_size(node)) + len(node.prefix)
    for child in node.children:
        _layout(child, pos)
        pos += child.size


def _size(node: _Node) -> int:
    if node.payload is None:
        for child in node.children:
            _size(child)
    body = _body_size(node)
    node.size = node.header_size(body) + body
    return node.size


def _apply_patches(node: _Node) -> None:
    if node.patch is not None:
        try:
            node.patch(node)
        except (struct.error, IndexError, ValueError) as exc:
            raise MediaFormatError(f"malformed '{node.type}' box: {exc}", node.old_start) from exc
    for child in node.children:
        _apply_patches(child)


@dataclass(frozen=True, slots=True)
class InputRange:
    """Bytes ``[start, end)`` of the input, copied to the output unchanged (once decrypted)."""

    start: int
    end: int


class _Plan:
    """Collects the output pieces, merging neighbours (few large pieces, not one per box)."""

    def __init__(self) -> None:
        self.pieces: list[bytes | InputRange] = []
        self._bytes = bytearray()

    def write(self, data: Buffer) -> None:
        self._bytes += data

    def copy(self, start: int, end: int) -> None:
        if start == end:
            return
        self._flush()
        last = self.pieces[-1] if self.pieces else None
        if isinstance(last, InputRange) and last.end == start:
            self.pieces[-1] = InputRange(last.start, end)
        else:
            self.pieces.append(InputRange(start, end))

    def _flush(self) -> None:
        if self._bytes:
            self.pieces.append(bytes(self._bytes))
            self._bytes.clear()

    @property
    def pieces_done(self) -> list[bytes | InputRange]:
        self._flush()
        return self.pieces


def _emit(node: _Node, plan: _Plan) -> None:
    body = _body_size(node)
    header = node.header_size(body)
    size = header + body
    typ = node.type.encode("latin-1")
    if header - len(node.header_extra) == 16:
        plan.write(struct.pack(">I4sQ", 1, typ, size))
    else:
        plan.write(struct.pack(">I4s", size, typ))
    if node.header_extra:
        plan.write(node.header_extra)
    if node.payload is not None:
        if node.origin >= 0 and node.payload is node.original:
            plan.copy(node.origin, node.origin + len(node.payload))
        else:
            plan.write(node.payload)
        return
    plan.write(node.prefix)
    for child in node.children:
        _emit(child, plan)


def write_clear(buf: Buffer, media: MediaFile, out: BinaryIO) -> int:
    """Write the clear MP4 of the decrypted ``buf`` (parsed as ``media``) to ``out``."""
    writer = ClearWriter(buf, media)
    writer.build()
    return writer.write(out)
