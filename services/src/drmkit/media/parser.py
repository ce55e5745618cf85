"""ISO-BMFF parser for everything Common Encryption needs.

drmkit parses boxes itself rather than with ``pymp4``/``construct``: ``pymp4`` pins an old
``construct`` and fails on real ``cbcs`` files (``senc`` with IV size 0, whose entry layout depends
on ``tenc`` and ``seig`` found elsewhere in the file), its errors carry no file offsets, and it
copies every payload. The decryptor needs offsets into one mutable buffer so that samples are
decrypted in place and the clear file is written from the same memory. The reader in
:mod:`drmkit.media.boxes` bounds every read, so lying sizes, truncation and deep nesting become
:class:`~drmkit.media.errors.MediaFormatError` with the offset, never crashes or hangs.

Supported: non-fragmented files (``stbl`` with ``stsz``/``stz2``, ``stsc``, ``stco``/``co64``,
``senc``/``saiz``/``saio``, ``sbgp``/``sgpd``), fragmented files and init + media segments
concatenated (``mvex``/``trex``, ``moof``/``traf``/``tfhd``/``trun``, ``senc`` or ``saiz``/``saio``,
fragment-local and global ``seig`` sample groups), ``tenc`` v0/v1, ``pssh`` v0/v1, PIFF ``uuid``
``senc``, several sample entries per track (clear lead), several tracks with different keys.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from drmkit.media.boxes import Box, Cursor, children, iter_boxes
from drmkit.media.errors import MediaFormatError
from drmkit.media.model import (
    SCHEME_ALIASES,
    EncryptionParams,
    MediaFile,
    Sample,
    SampleEntry,
    Track,
)
from drmkit.sdk.pssh import PIFF_PSSH_UUID, PsshBox, PsshError, parse_pssh_box

Buffer = bytes | bytearray | memoryview

#: PIFF 1.1 SampleEncryptionBox, stored as a 'uuid' box.
PIFF_SENC_UUID = bytes.fromhex("a2394f525a9b4f14a2446c427c648df4")
#: PIFF 1.1 ProtectionSystemSpecificHeaderBox, stored as a 'uuid' box.
#: Sample entry types that carry a 'sinf' (protected sample entries).
PROTECTED_ENTRY_TYPES = {"encv", "enca", "enct", "encs", "encm", "enc3", "encf"}
_VISUAL_ENTRY_FIELDS = 78
_AUDIO_ENTRY_FIELDS = 28
_TFHD_BASE_DATA_OFFSET = 0x1
_TFHD_DESCRIPTION_INDEX = 0x2
_TFHD_DEFAULT_DURATION = 0x8
_TFHD_DEFAULT_SIZE = 0x10
_TFHD_DEFAULT_FLAGS = 0x20
_TFHD_DEFAULT_BASE_IS_MOOF = 0x20000
_SENC_OVERRIDE = 0x1
_SENC_SUBSAMPLES = 0x2


def parse(buf: Buffer) -> MediaFile:
    """Parse a whole ISO-BMFF file (or init segment + media segments concatenated) in ``buf``."""
    return _Parser(buf).run()


def sample_entry_children_offset(buf: Buffer, entry: Box, handler: str) -> int:
    """Bytes of fixed fields between a sample entry's header and its child boxes.

    Visual entries have 78 bytes of fields; audio entries 28, plus 16 (QuickTime sound v1) or 36
    (v2). Other entries are not scanned for children (0 is returned with ``-1`` meaning unknown).
    """
    fourcc = entry.type
    if fourcc == "encv" or handler == "vide":
        return _VISUAL_ENTRY_FIELDS
    if fourcc == "enca" or handler == "soun":
        cursor = Cursor(buf, entry.payload_start + 8, entry.end, f"'{fourcc}' sample entry")
        version = cursor.u16("sound version")
        extra = {0: 0, 1: 16, 2: 36}.get(version)
        if extra is None:
            raise MediaFormatError(f"unknown sound sample entry version {version}", cursor.pos - 2)
        return _AUDIO_ENTRY_FIELDS + extra
    return -1


@dataclass(slots=True)
class _TrackState:
    track: Track
    default_duration: int = 0
    default_flags: int = 0


@dataclass(slots=True)
class _AuxInfo:
    """Per-sample encryption info found in a 'senc' box or through 'saiz'/'saio'."""

    senc: Box | None = None
    piff: bool = False
    saiz: Box | None = None
    saio: Box | None = None
    sbgp: list[Box] = field(default_factory=list)
    sgpd: list[Box] = field(default_factory=list)


class _Parser:
    def __init__(self, buf: Buffer) -> None:
        self.buf = buf
        self.media = MediaFile(size=len(buf))
        self.states: dict[int, _TrackState] = {}

    def run(self) -> MediaFile:
        top = list(iter_boxes(self.buf, 0, len(self.buf)))
        if not top:
            raise MediaFormatError("empty input: no boxes", 0)
        have_moov = False
        for box in top:
            if box.type in ("ftyp", "styp"):
                self._brands(box)
            elif box.type == "moov":
                if have_moov:
                    raise MediaFormatError("a second 'moov' box", box.start)
                have_moov = True
                self._moov(box)
            elif box.type == "moof":
                if not have_moov:
                    raise MediaFormatError("'moof' before any 'moov'", box.start)
                self._moof(box)
        if not have_moov:
            raise MediaFormatError("no 'moov' box: not an MP4 file or an init segment", 0)
        return self.media

    # -- moov -------------------------------------------------------------------------------------

    def _brands(self, box: Box) -> None:
        cur = Cursor.of(self.buf, box)
        major = cur.read(4, "major brand").decode("latin-1")
        cur.skip(4, "minor version")
        brands = [major]
        while cur.remaining >= 4:
            brands.append(cur.read(4).decode("latin-1"))
        for brand in brands:
            if brand not in self.media.brands:
                self.media.brands.append(brand)

    def _moov(self, moov: Box) -> None:
        kids = children(self.buf, moov)
        for box in kids:
            if box.type == "trak":
                self._trak(box)
            elif box.type == "pssh":
                self.media.pssh.append(parse_pssh(self.buf, box))
            elif box.type == "uuid" and box.user_type == PIFF_PSSH_UUID:
                self.media.pssh.append(parse_pssh(self.buf, box, piff=True))
        for box in kids:
            if box.type == "mvex":
                for trex in children(self.buf, box):
                    if trex.type == "trex":
                        self._trex(trex)

    def _trex(self, box: Box) -> None:
        cur = Cursor.of(self.buf, box)
        cur.full_header()
        track_id = cur.u32("track_ID")
        state = self.states.get(track_id)
        if state is None:
            raise MediaFormatError(f"'trex' for unknown track {track_id}", box.start)
        state.track.default_description_index = cur.u32("default_sample_description_index")
        state.default_duration = cur.u32("default_sample_duration")
        state.track.default_sample_size = cur.u32("default_sample_size")
        state.default_flags = cur.u32("default_sample_flags")

    def _trak(self, trak: Box) -> None:
        track_id: int | None = None
        mdia: Box | None = None
        for box in children(self.buf, trak):
            if box.type == "tkhd":
                cur = Cursor.of(self.buf, box)
                version, _ = cur.full_header()
                cur.skip(16 if version == 1 else 8, "creation/modification time")
                track_id = cur.u32("track_ID")
            elif box.type == "mdia":
                mdia = box
        if track_id is None:
            raise MediaFormatError("'trak' without 'tkhd'", trak.start)
        if track_id in self.media.tracks:
            raise MediaFormatError(f"two tracks with id {track_id}", trak.start)
        if mdia is None:
            raise MediaFormatError(f"track {track_id} has no 'mdia'", trak.start)
        handler = "?"
        timescale = 0
        minf: Box | None = None
        for box in children(self.buf, mdia):
            if box.type == "hdlr":
                cur = Cursor.of(self.buf, box)
                cur.full_header()
                cur.skip(4, "pre_defined")
                handler = cur.read(4, "handler_type").decode("latin-1")
            elif box.type == "mdhd":
                cur = Cursor.of(self.buf, box)
                version, _ = cur.full_header()
                cur.skip(16 if version == 1 else 8, "creation/modification time")
                timescale = cur.u32("timescale")
            elif box.type == "minf":
                minf = box
        track = Track(track_id=track_id, handler=handler, timescale=timescale)
        self.media.tracks[track_id] = track
        self.states[track_id] = _TrackState(track)
        stbl = None
        if minf is not None:
            stbl = next((b for b in children(self.buf, minf) if b.type == "stbl"), None)
        if stbl is None:
            raise MediaFormatError(f"track {track_id} has no 'stbl'", mdia.start)
        self._stbl(track, stbl)

    def _stbl(self, track: Track, stbl: Box) -> None:
        boxes: dict[str, Box] = {}
        aux = _AuxInfo()
        for box in children(self.buf, stbl):
            if box.type == "sbgp":
                aux.sbgp.append(box)
            elif box.type == "sgpd":
                aux.sgpd.append(box)
            elif box.type == "uuid" and box.user_type == PIFF_SENC_UUID:
                aux.senc, aux.piff = box, True
            else:
                boxes.setdefault(box.type, box)
        aux.senc = boxes.get("senc", aux.senc)
        aux.saiz, aux.saio = boxes.get("saiz"), boxes.get("saio")
        stsd = boxes.get("stsd")
        if stsd is None:
            raise MediaFormatError(f"track {track.track_id} has no 'stsd'", stbl.start)
        self._stsd(track, stsd)
        track.seig = self._seig_descriptions(aux.sgpd)
        sizes = self._sample_sizes(boxes)
        if not sizes:
            return
        offsets, description_indexes = self._chunk_layout(track, boxes, sizes, stbl)
        samples = [
            Sample(offset=o, size=s, description_index=d)
            for o, s, d in zip(offsets, sizes, description_indexes, strict=True)
        ]
        for sample in samples:
            if sample.offset + sample.size > len(self.buf):
                raise MediaFormatError(
                    f"track {track.track_id}: sample data at {sample.offset} "
                    f"(+{sample.size}) lies beyond the end of the input",
                    stbl.start,
                )
        self._apply_encryption(track, samples, aux, base_offset=0, local_seig=[])
        track.samples.extend(samples)

    def _stsd(self, track: Track, stsd: Box) -> None:
        cur = Cursor.of(self.buf, stsd)
        cur.full_header()
        count = cur.u32("entry_count")
        entries = list(iter_boxes(self.buf, cur.pos, stsd.end))
        if len(entries) < count:
            raise MediaFormatError(
                f"'stsd' declares {count} entries but holds {len(entries)}", stsd.start
            )
        for index, box in enumerate(entries[:count], start=1):
            entry = SampleEntry(
                index=index, fourcc=box.type, original_format=box.type, offset=box.start
            )
            if box.type in PROTECTED_ENTRY_TYPES:
                skip = sample_entry_children_offset(self.buf, box, track.handler)
                if skip < 0:
                    raise MediaFormatError(
                        f"cannot locate 'sinf' in a '{box.type}' sample entry", box.start
                    )
                sinf = next((b for b in children(self.buf, box, skip) if b.type == "sinf"), None)
                if sinf is None:
                    raise MediaFormatError(f"'{box.type}' sample entry without 'sinf'", box.start)
                self._sinf(entry, sinf)
            track.entries.append(entry)

    def _sinf(self, entry: SampleEntry, sinf: Box) -> None:
        for box in children(self.buf, sinf):
            cur = Cursor.of(self.buf, box)
            if box.type == "frma":
                entry.original_format = cur.read(4, "data_format").decode("latin-1")
            elif box.type == "schm":
                cur.full_header()
                scheme = cur.read(4, "scheme_type").decode("latin-1")
                entry.scheme = SCHEME_ALIASES.get(scheme, scheme)
                entry.scheme_version = cur.u32("scheme_version")
            elif box.type == "schi":
                for sub in children(self.buf, box):
                    piff_tenc = sub.type == "uuid" and sub.user_type == _PIFF_TENC_UUID
                    if sub.type == "tenc" or piff_tenc:
                        entry.tenc, entry.tenc_version = parse_tenc(self.buf, sub)
        if entry.scheme is None:
            raise MediaFormatError("'sinf' without 'schm'", sinf.start)
        if entry.tenc is None:
            raise MediaFormatError(f"scheme '{entry.scheme}' without 'tenc'", sinf.start)

    def _sample_sizes(self, boxes: dict[str, Box]) -> list[int]:
        stsz = boxes.get("stsz")
        if stsz is not None:
            cur = Cursor.of(self.buf, stsz)
            cur.full_header()
            size = cur.u32("sample_size")
            count = cur.u32("sample_count")
            if size:
                if count * size > len(self.buf):
                    raise MediaFormatError(
                        f"'stsz' declares {count} samples of {size} bytes, more than the input",
                        stsz.start,
                    )
                return [size] * count
            return [row[0] for row in cur.table("I", count, "sample size")]
        stz2 = boxes.get("stz2")
        if stz2 is not None:
            cur = Cursor.of(self.buf, stz2)
            cur.full_header()
            cur.skip(3, "reserved")
            width = cur.u8("field_size")
            count = cur.u32("sample_count")
            if width not in (4, 8, 16):
                raise MediaFormatError(f"'stz2' field size {width} is not 4, 8 or 16", stz2.start)
            if width == 4:
                raw = cur.read((count + 1) // 2, "4-bit sample sizes")
                return [(raw[i // 2] >> (4 if i % 2 == 0 else 0)) & 0xF for i in range(count)]
            fmt = "B" if width == 8 else "H"
            return [row[0] for row in cur.table(fmt, count, "sample size")]
        raise MediaFormatError("sample table without 'stsz' or 'stz2'", 0)

    def _chunk_layout(
        self, track: Track, boxes: dict[str, Box], sizes: list[int], stbl: Box
    ) -> tuple[list[int], list[int]]:
        """Return each sample's file offset and sample description index from stsc + stco."""
        stsc, stco, co64 = boxes.get("stsc"), boxes.get("stco"), boxes.get("co64")
        if stsc is None or (stco is None and co64 is None):
            raise MediaFormatError(
                f"track {track.track_id} has samples but no 'stsc'/'stco'", stbl.start
            )
        chunk_box = stco if stco is not None else co64
        assert chunk_box is not None
        cur = Cursor.of(self.buf, chunk_box)
        cur.full_header()
        n_chunks = cur.u32("entry_count")
        chunk_offsets = [
            row[0] for row in cur.table("I" if stco is not None else "Q", n_chunks, "chunk offset")
        ]
        cur = Cursor.of(self.buf, stsc)
        cur.full_header()
        runs = cur.table("III", cur.u32("entry_count"), "sample-to-chunk")
        if not runs or runs[0][0] != 1:
            raise MediaFormatError("'stsc' must start at chunk 1", stsc.start)
        sample_count = sizes_needed = len(sizes)
        offsets: list[int] = []
        indexes: list[int] = []
        for i, (first, per_chunk, description) in enumerate(runs):
            last = runs[i + 1][0] - 1 if i + 1 < len(runs) else n_chunks
            if last < first - 1 or first < 1 or last > n_chunks:
                raise MediaFormatError(f"'stsc' entry {i} has bad chunk numbers", stsc.start)
            for chunk in range(first, last + 1):
                pos = chunk_offsets[chunk - 1]
                for _ in range(per_chunk):
                    if len(offsets) >= sizes_needed:
                        break
                    offsets.append(pos)
                    indexes.append(description)
                    pos += sizes[len(offsets) - 1]
                if len(offsets) >= sizes_needed:
                    break
            if len(offsets) >= sizes_needed:
                break
        if len(offsets) != sample_count:
            raise MediaFormatError(
                f"'stsc'/'stco' describe {len(offsets)} samples, 'stsz' {sample_count}", stsc.start
            )
        return offsets, indexes

    # -- fragments --------------------------------------------------------------------------------

    def _moof(self, moof: Box) -> None:
        self.media.fragmented = True
        self.media.fragments += 1
        next_base = moof.start
        for box in children(self.buf, moof):
            if box.type == "traf":
                next_base = self._traf(moof, box, next_base)
            elif box.type == "pssh":
                self.media.pssh.append(parse_pssh(self.buf, box))
            elif box.type == "uuid" and box.user_type == PIFF_PSSH_UUID:
                self.media.pssh.append(parse_pssh(self.buf, box, piff=True))

    def _traf(self, moof: Box, traf: Box, implicit_base: int) -> int:
        """Parse one 'traf'; return where its data ends (the implicit base of the next 'traf')."""
        kids = children(self.buf, traf)
        tfhd = next((b for b in kids if b.type == "tfhd"), None)
        if tfhd is None:
            raise MediaFormatError("'traf' without 'tfhd'", traf.start)
        cur = Cursor.of(self.buf, tfhd)
        _, flags = cur.full_header()
        track_id = cur.u32("track_ID")
        state = self.states.get(track_id)
        if state is None:
            raise MediaFormatError(f"'tfhd' for unknown track {track_id}", tfhd.start)
        track = state.track
        if flags & _TFHD_BASE_DATA_OFFSET:
            base = cur.u64("base_data_offset")
        elif flags & _TFHD_DEFAULT_BASE_IS_MOOF:
            base = moof.start
        else:
            base = implicit_base
        self.media.traf_bases[traf.start] = base
        description = (
            cur.u32("sample_description_index")
            if flags & _TFHD_DESCRIPTION_INDEX
            else track.default_description_index
        )
        if flags & _TFHD_DEFAULT_DURATION:
            cur.u32("default_sample_duration")
        default_size = cur.u32("default_sample_size") if flags & _TFHD_DEFAULT_SIZE else None
        if default_size is None:
            default_size = track.default_sample_size
        aux = _AuxInfo()
        samples: list[Sample] = []
        data_end = base
        for box in kids:
            if box.type == "trun":
                data_end = self._trun(box, base, data_end, default_size, description, samples)
            elif box.type == "senc":
                aux.senc = box
            elif box.type == "uuid" and box.user_type == PIFF_SENC_UUID and aux.senc is None:
                aux.senc, aux.piff = box, True
            elif box.type == "saiz":
                aux.saiz = box
            elif box.type == "saio":
                aux.saio = box
            elif box.type == "sbgp":
                aux.sbgp.append(box)
            elif box.type == "sgpd":
                aux.sgpd.append(box)
        local_seig = self._seig_descriptions(aux.sgpd)
        self._apply_encryption(track, samples, aux, base_offset=base, local_seig=local_seig)
        track.samples.extend(samples)
        return data_end

    def _trun(
        self,
        trun: Box,
        base: int,
        data_end: int,
        default_size: int,
        description: int,
        out: list[Sample],
    ) -> int:
        cur = Cursor.of(self.buf, trun)
        _, flags = cur.full_header()
        count = cur.u32("sample_count")
        pos = base + _signed32(cur.u32("data_offset")) if flags & 0x1 else data_end
        if flags & 0x4:
            cur.u32("first_sample_flags")
        fmt = ""
        size_column = -1
        for bit, code in ((0x100, "I"), (0x200, "I"), (0x400, "I"), (0x800, "I")):
            if flags & bit:
                if bit == 0x200:
                    size_column = len(fmt)
                fmt += code
        if fmt:
            rows = cur.table(fmt, count, "trun sample")
            sizes = [row[size_column] if size_column >= 0 else default_size for row in rows]
        else:
            if count * max(default_size, 1) > len(self.buf):
                raise MediaFormatError(
                    f"'trun' declares {count} samples of {default_size} bytes, more than the input",
                    trun.start,
                )
            sizes = [default_size] * count
        for size in sizes:
            if pos < 0 or pos + size > len(self.buf):
                raise MediaFormatError(
                    f"'trun' sample data at {pos} (+{size}) lies outside the input", trun.start
                )
            out.append(Sample(offset=pos, size=size, description_index=description))
            pos += size
        return pos

    # -- encryption metadata ----------------------------------------------------------------------

    def _seig_descriptions(self, sgpd_boxes: list[Box]) -> list[EncryptionParams | None]:
        for box in sgpd_boxes:
            cur = Cursor.of(self.buf, box)
            version, _ = cur.full_header()
            if cur.read(4, "grouping_type") != b"seig":
                continue
            default_length = cur.u32("default_length") if version == 1 else 0
            if version >= 2:
                cur.u32("default_sample_description_index")
            count = cur.u32("entry_count")
            if count > cur.remaining:
                raise MediaFormatError(
                    f"'sgpd' declares {count} entries in {cur.remaining} bytes", box.start
                )
            out: list[EncryptionParams | None] = []
            for _ in range(count):
                length = default_length
                if version == 1 and default_length == 0:
                    length = cur.u32("description_length")
                start = cur.pos
                out.append(_read_encryption_params(cur, version_1=True))
                if length:
                    if cur.pos - start > length:
                        raise MediaFormatError("'seig' entry longer than declared", start)
                    cur.pos = start
                    cur.skip(length, "seig entry")
            return out
        return []

    def _group_indexes(self, sbgp_boxes: list[Box], count: int) -> list[int] | None:
        for box in sbgp_boxes:
            cur = Cursor.of(self.buf, box)
            version, _ = cur.full_header()
            if cur.read(4, "grouping_type") != b"seig":
                continue
            if version == 1:
                cur.u32("grouping_type_parameter")
            runs = cur.table("II", cur.u32("entry_count"), "sample-to-group")
            indexes: list[int] = []
            for run_count, group in runs:
                take = min(run_count, count - len(indexes))
                indexes.extend([group] * take)
            indexes.extend([0] * (count - len(indexes)))
            return indexes
        return None

    def _apply_encryption(
        self,
        track: Track,
        samples: list[Sample],
        aux: _AuxInfo,
        base_offset: int,
        local_seig: list[EncryptionParams | None],
    ) -> None:
        if not samples:
            return
        groups = self._group_indexes(aux.sbgp, len(samples))
        params: list[EncryptionParams | None] = []
        schemes: list[str | None] = []
        any_protected = False
        for i, sample in enumerate(samples):
            entry = track.entry(sample.description_index)
            if entry is None:
                raise MediaFormatError(
                    f"track {track.track_id}: sample description index "
                    f"{sample.description_index} does not exist",
                    sample.offset,
                )
            p = entry.tenc if entry.protected else None
            if p is not None and groups is not None and groups[i]:
                p = self._group_params(track, local_seig, groups[i], sample.offset)
            if p is not None and not p.is_protected:
                p = None
            params.append(p)
            schemes.append(entry.scheme if p is not None else None)
            any_protected = any_protected or p is not None
        if not any_protected:
            return
        iv_sizes = [p.per_sample_iv_size if p is not None else 0 for p in params]
        if aux.senc is not None:
            infos = self._read_senc(aux.senc, aux.piff, iv_sizes)
        elif aux.saiz is not None and aux.saio is not None:
            infos = self._read_saio(aux.saiz, aux.saio, iv_sizes, base_offset)
        else:
            anchor = aux.saiz.start if aux.saiz is not None else samples[0].offset
            raise MediaFormatError(
                f"track {track.track_id}: protected samples without 'senc' or 'saiz'/'saio'",
                anchor,
            )
        if len(infos) != len(samples):
            where = aux.senc.start if aux.senc is not None else samples[0].offset
            raise MediaFormatError(
                f"track {track.track_id}: {len(infos)} sample encryption entries for "
                f"{len(samples)} samples",
                where,
            )
        for sample, p, scheme, (iv, subsamples) in zip(
            samples, params, schemes, infos, strict=True
        ):
            if p is None or scheme is None:
                continue
            if subsamples is not None and sum(c + e for c, e in subsamples) != sample.size:
                raise MediaFormatError(
                    f"track {track.track_id}: subsamples cover "
                    f"{sum(c + e for c, e in subsamples)} bytes of a {sample.size}-byte sample",
                    sample.offset,
                )
            sample.scheme = scheme
            sample.key_id = p.key_id
            sample.iv = iv if p.per_sample_iv_size else p.constant_iv
            sample.subsamples = subsamples
            sample.crypt_byte_block = p.crypt_byte_block
            sample.skip_byte_block = p.skip_byte_block

    def _group_params(
        self,
        track: Track,
        local: list[EncryptionParams | None],
        index: int,
        where: int,
    ) -> EncryptionParams | None:
        table, i = (local, index - 0x10000) if index > 0x10000 else (track.seig, index)
        if not 1 <= i <= len(table):
            raise MediaFormatError(
                f"track {track.track_id}: sample group description index {index} does not exist",
                where,
            )
        return table[i - 1]

    def _read_senc(
        self, senc: Box, piff: bool, iv_sizes: list[int]
    ) -> list[tuple[bytes, tuple[tuple[int, int], ...] | None]]:
        cur = Cursor.of(self.buf, senc)
        _, flags = cur.full_header()
        if piff and flags & _SENC_OVERRIDE:
            cur.skip(3, "AlgorithmID")
            override = cur.u8("IV_size")
            cur.skip(16, "KID")
            iv_sizes = [override if size else 0 for size in iv_sizes]
        count = cur.u32("sample_count")
        if count != len(iv_sizes):
            raise MediaFormatError(
                f"'{senc.type}' has {count} entries for {len(iv_sizes)} samples", senc.start
            )
        out: list[tuple[bytes, tuple[tuple[int, int], ...] | None]] = []
        has_subsamples = bool(flags & _SENC_SUBSAMPLES)
        for iv_size in iv_sizes:
            iv = cur.read(iv_size, "IV")
            subsamples = None
            if has_subsamples:
                n = cur.u16("subsample_count")
                subsamples = tuple((c, e) for c, e in cur.table("HI", n, "subsample"))
            out.append((iv, subsamples))
        return out

    def _read_saio(
        self, saiz: Box, saio: Box, iv_sizes: list[int], base_offset: int
    ) -> list[tuple[bytes, tuple[tuple[int, int], ...] | None]]:
        cur = Cursor.of(self.buf, saiz)
        _, flags = cur.full_header()
        if flags & 1:
            cur.skip(8, "aux_info_type")
        default_size = cur.u8("default_sample_info_size")
        count = cur.u32("sample_count")
        if count != len(iv_sizes):
            raise MediaFormatError(f"'saiz' has {count} entries for {len(iv_sizes)} samples",
                                   saiz.start)  # fmt: skip
        sizes = [default_size] * count if default_size else list(cur.read(count, "sizes"))
        cur = Cursor.of(self.buf, saio)
        version, flags = cur.full_header()
        if flags & 1:
            cur.skip(8, "aux_info_type")
        if cur.u32("entry_count") != 1:
            raise MediaFormatError("'saio' with other than one offset is not supported", saio.start)
        offset = cur.u64("offset") if version == 1 else cur.u32("offset")
        start = base_offset + offset
        if start + sum(sizes) > len(self.buf):
            raise MediaFormatError("'saio' points outside the input", saio.start)
        out: list[tuple[bytes, tuple[tuple[int, int], ...] | None]] = []
        pos = start
        for size, iv_size in zip(sizes, iv_sizes, strict=True):
            info = Cursor(self.buf, pos, pos + size, "sample auxiliary information")
            iv = info.read(iv_size, "IV")
            subsamples = None
            if info.remaining:
                n = info.u16("subsample_count")
                subsamples = tuple((c, e) for c, e in info.table("HI", n, "subsample"))
            out.append((iv, subsamples))
            pos += size
        return out


_PIFF_TENC_UUID = bytes.fromhex("8974dbce7be74c5184f97148f9882554")


def _signed32(value: int) -> int:
    return value - (1 << 32) if value & 0x80000000 else value


def _read_encryption_params(cur: Cursor, *, version_1: bool) -> EncryptionParams:
    """Read the common layout of 'tenc' (after its reserved byte) and 'seig' entries."""
    cur.u8("reserved")
    pattern = cur.u8("crypt/skip byte block")
    is_protected = cur.u8("isProtected")
    iv_size = cur.u8("Per_Sample_IV_Size")
    key_id = cur.read(16, "KID")
    if iv_size not in (0, 8, 16):
        raise MediaFormatError(f"per-sample IV size {iv_size} is not 0, 8 or 16", cur.pos - 17)
    constant_iv = b""
    if is_protected and iv_size == 0:
        size = cur.u8("constant_IV_size")
        if size not in (8, 16):
            raise MediaFormatError(f"constant IV size {size} is not 8 or 16", cur.pos - 1)
        constant_iv = cur.read(size, "constant_IV")
    crypt, skip = (pattern >> 4, pattern & 0xF) if version_1 else (0, 0)
    return EncryptionParams(bool(is_protected), iv_size, key_id, constant_iv, crypt, skip)


def parse_tenc(buf: Buffer, box: Box) -> tuple[EncryptionParams, int]:
    """Parse a 'tenc' (or PIFF track encryption 'uuid') box; return the params and version."""
    cur = Cursor.of(buf, box)
    version, _ = cur.full_header()
    return _read_encryption_params(cur, version_1=version >= 1), version


def parse_pssh(buf: Buffer, box: Box, *, piff: bool = False) -> PsshBox:
    """Parse a 'pssh' box (v0 or v1) or a PIFF 'uuid' protection header box (the SDK's parser)."""
    try:
        parsed = parse_pssh_box(bytes(buf[box.start : box.end]))
    except PsshError as exc:
        raise MediaFormatError(
            str(exc).replace("offset 0", f"offset {box.start}"), box.start
        ) from exc
    return dataclasses.replace(parsed, offset=box.start)


__all__ = [
    "parse",
    "parse_pssh",
    "parse_tenc",
    "sample_entry_children_offset",
]
