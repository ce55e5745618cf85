"""What the parser finds: tracks, sample entries, samples with their encryption metadata, PSSH."""

from __future__ import annotations

from dataclasses import dataclass, field

from drmkit.sdk.pssh import PsshBox

#: Schemes drmkit decrypts, with the cipher each uses.
SCHEME_CIPHERS = {"cenc": "AES-128-CTR", "cens": "AES-128-CTR", "cbc1": "AES-128-CBC",
                  "cbcs": "AES-128-CBC"}  # fmt: skip
#: PIFF 1.1 files announce 'piff'; their samples are AES-CTR exactly like 'cenc'.
SCHEME_ALIASES = {"piff": "cenc"}


@dataclass(frozen=True, slots=True)
class EncryptionParams:
    """Default encryption parameters of a sample entry (``tenc``) or a sample group (``seig``)."""

    is_protected: bool
    per_sample_iv_size: int
    key_id: bytes
    constant_iv: bytes = b""
    crypt_byte_block: int = 0
    skip_byte_block: int = 0

    @property
    def iv_size(self) -> int:
        """The per-sample IV size, or the constant IV's size when samples carry no IV."""
        return self.per_sample_iv_size or len(self.constant_iv)


@dataclass(slots=True)
class SampleEntry:
    """One entry of ``stsd``; protected entries carry their ``sinf`` contents."""

    index: int
    fourcc: str
    original_format: str
    offset: int
    scheme: str | None = None
    scheme_version: int = 0
    tenc: EncryptionParams | None = None
    tenc_version: int = 0

    @property
    def protected(self) -> bool:
        """True when the entry is a protected (``encv``/``enca``/...) entry with a scheme."""
        return self.scheme is not None


@dataclass(slots=True)
class Sample:
    """One media sample: where its bytes are and how they are encrypted.

    ``subsamples`` is ``None`` when the whole sample is one protected range, otherwise a tuple of
    ``(clear_bytes, protected_bytes)`` pairs that add up to ``size``. ``iv`` is the per-sample IV or
    the constant IV, as stored (8 or 16 bytes). A clear sample has ``scheme`` ``None``.
    """

    offset: int
    size: int
    description_index: int
    scheme: str | None = None
    key_id: bytes = b""
    iv: bytes = b""
    subsamples: tuple[tuple[int, int], ...] | None = None
    crypt_byte_block: int = 0
    skip_byte_block: int = 0


@dataclass(slots=True)
class Track:
    """One ``trak`` and all its samples (from ``stbl`` and from fragments), in decode order."""

    track_id: int
    handler: str
    timescale: int
    entries: list[SampleEntry] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    #: Sample group descriptions of type 'seig' declared in the track's ``stbl`` (1-based).
    seig: list[EncryptionParams | None] = field(default_factory=list)
    default_description_index: int = 1
    default_sample_size: int = 0

    @property
    def protected_entry(self) -> SampleEntry | None:
        """The first protected sample entry, if any."""
        return next((e for e in self.entries if e.protected), None)

    @property
    def codec(self) -> str:
        """The codec four-character code (the original format of a protected entry)."""
        entry = self.protected_entry or (self.entries[0] if self.entries else None)
        return entry.original_format if entry else "?"

    def entry(self, index: int) -> SampleEntry | None:
        """Return the sample entry with 1-based ``index``, if it exists."""
        return self.entries[index - 1] if 1 <= index <= len(self.entries) else None

    def key_ids(self) -> list[bytes]:
        """Every key id the track's samples use, in order of first use (default KID first)."""
        seen: dict[bytes, None] = {}
        entry = self.protected_entry
        if entry is not None and entry.tenc is not None and entry.tenc.is_protected:
            seen[entry.tenc.key_id] = None
        for sample in self.samples:
            if sample.scheme is not None:
                seen.setdefault(sample.key_id, None)
        return list(seen)


@dataclass(slots=True)
class MediaFile:
    """A parsed ISO-BMFF file (or an init segment followed by media segments)."""

    size: int
    brands: list[str] = field(default_factory=list)
    tracks: dict[int, Track] = field(default_factory=dict)
    pssh: list[PsshBox] = field(default_factory=list)
    fragmented: bool = False
    fragments: int = 0
    #: Base data offset of every 'traf', keyed by the traf's offset (used to rewrite 'trun').
    traf_bases: dict[int, int] = field(default_factory=dict)

    def protected_samples(self) -> int:
        """Count the samples that need decryption, over all tracks."""
        return sum(1 for t in self.tracks.values() for s in t.samples if s.scheme is not None)
