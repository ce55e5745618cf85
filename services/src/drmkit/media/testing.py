"""Test helpers of the media tools.

They check decrypted files against the vectors' oracles with an independent, pure-Python
implementation of the four CENC schemes.

The decryptor follows ISO/IEC 23001-7 directly (including the partial-pattern rule) so that tests
can check the parser, the writer and the reference CDM against a second implementation. The
vectors themselves are found by :mod:`drmkit.testing.vectors`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from drmkit.media.model import MediaFile, Sample, Track

BLOCK = 16


def _ranges(sample: Sample) -> list[tuple[int, int]]:
    """(start, length) of each protected range, relative to the sample start."""
    if sample.subsamples is None:
        return [(0, sample.size)]
    out, pos = [], 0
    for clear, protected in sample.subsamples:
        pos += clear
        if protected:
            out.append((pos, protected))
        pos += protected
    return out


def _pattern_blocks(length: int, crypt: int, skip: int) -> list[int]:
    """Offsets of the encrypted 16-byte blocks of one protected range under a pattern."""
    whole = length // BLOCK
    if crypt == 0 and skip == 0:
        return [i * BLOCK for i in range(whole)]
    out: list[int] = []
    block = 0
    while whole - block >= crypt:
        out.extend((block + i) * BLOCK for i in range(crypt))
        block += crypt + skip
    return out


def decrypt_sample(data: bytearray | memoryview, sample: Sample, key: bytes) -> None:
    """Decrypt ``data`` (exactly the sample's bytes) in place."""
    scheme = sample.scheme
    iv = sample.iv.ljust(BLOCK, b"\0")
    ranges = _ranges(sample)
    if scheme in ("cenc", "cens"):
        pieces: list[tuple[int, int]] = []
        for start, length in ranges:
            if scheme == "cenc":
                pieces.append((start, length))
            else:
                pieces.extend(
                    (start + b, BLOCK)
                    for b in _pattern_blocks(
                        length, sample.crypt_byte_block, sample.skip_byte_block
                    )
                )
        joined = b"".join(bytes(data[s : s + n]) for s, n in pieces)
        plain = Cipher(algorithms.AES(key), modes.CTR(iv)).decryptor().update(joined)
        pos = 0
        for s, n in pieces:
            data[s : s + n] = plain[pos : pos + n]
            pos += n
        return
    if scheme == "cbc1":
        pieces = [(s, n - n % BLOCK) for s, n in ranges]
        joined = b"".join(bytes(data[s : s + n]) for s, n in pieces)
        plain = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor().update(joined)
        pos = 0
        for s, n in pieces:
            data[s : s + n] = plain[pos : pos + n]
            pos += n
        return
    if scheme == "cbcs":
        for start, length in ranges:
            blocks = _pattern_blocks(length, sample.crypt_byte_block, sample.skip_byte_block)
            if not blocks:
                continue
            joined = b"".join(bytes(data[start + b : start + b + BLOCK]) for b in blocks)
            plain = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor().update(joined)
            for i, b in enumerate(blocks):
                data[start + b : start + b + BLOCK] = plain[i * BLOCK : (i + 1) * BLOCK]
        return
    raise ValueError(f"unknown scheme {scheme}")


def sample_bytes(buf: bytes | bytearray, track: Track) -> list[bytes]:
    """Return the payload of every sample of ``track`` in decode order."""
    return [bytes(buf[s.offset : s.offset + s.size]) for s in track.samples]


def check_against_oracle(buf: bytes | bytearray, media: MediaFile, oracle: dict[str, Any]) -> None:
    """Assert each track's samples match the oracle's per-sample SHA-1 prefixes and MD5."""
    tracks = list(media.tracks.values())
    assert len(tracks) == len(oracle["tracks"])
    for track, expected in zip(tracks, oracle["tracks"], strict=True):
        samples = sample_bytes(buf, track)
        assert len(samples) == expected["samples"]
        digests = [hashlib.sha1(s).hexdigest()[:12] for s in samples]
        first_bad = next(
            (
                i
                for i, (a, b) in enumerate(
                    zip(digests, expected["sha1_12_per_sample"], strict=True)
                )
                if a != b
            ),
            None,
        )
        assert first_bad is None, f"track {track.track_id}: sample {first_bad} differs"
        assert hashlib.md5(b"".join(samples)).hexdigest() == expected["md5_concat"]
