"""A reference Common Encryption encryptor for building test samples (cenc, cens, cbc1, cbcs).

Written from ISO/IEC 23001-7 (the rules in ``media-and-vectors`` §1) with ``cryptography``'s AES:
the conformance suite encrypts a random sample with it and checks the CDM decrypts it back.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from drmkit.types import NO_PATTERN, CipherMode, Pattern, Subsample

BLOCK = 16


def _ranges(size: int, subsamples: Sequence[Subsample]) -> list[tuple[int, int]]:
    """Return the protected (offset, length) ranges of a sample."""
    if not subsamples:
        return [(0, size)]
    ranges, offset = [], 0
    for clear, protected in subsamples:
        offset += clear
        ranges.append((offset, protected))
        offset += protected
    if offset != size:
        raise ValueError(f"subsamples cover {offset} bytes of a {size}-byte sample")
    return ranges


def _selected(length: int, pattern: Pattern, whole_blocks: bool) -> list[tuple[int, int]]:
    """Return the encrypted (offset, length) pieces of one protected range."""
    crypt, skip = pattern
    if crypt == 0 and skip == 0:
        end = length - length % BLOCK if whole_blocks else length
        return [(0, end)] if end else []
    pieces, position = [], 0
    # Partial-pattern rule: a crypt group that does not fit entirely stays clear.
    while position + crypt * BLOCK <= length:
        pieces.append((position, crypt * BLOCK))
        position += (crypt + skip) * BLOCK
    return pieces


def encrypt_sample(
    data: bytes,
    key: bytes,
    iv: bytes,
    cipher_mode: CipherMode,
    subsamples: Sequence[Subsample] = (),
    pattern: Pattern = NO_PATTERN,
) -> bytes:
    """Return ``data`` encrypted as a CENC sample (IV of 8 or 16 bytes; 8 is zero-padded)."""
    counter = iv + bytes(16 - len(iv))
    out = bytearray(data)
    ctr = cipher_mode in (CipherMode.CENC, CipherMode.CENS)
    ranges = _ranges(len(data), subsamples)
    use_pattern = pattern if cipher_mode in (CipherMode.CENS, CipherMode.CBCS) else NO_PATTERN
    if cipher_mode is CipherMode.CBCS:
        for start, length in ranges:
            pieces = _selected(length, use_pattern, whole_blocks=True)
            plain = b"".join(data[start + o : start + o + n] for o, n in pieces)
            encryptor = Cipher(algorithms.AES(key), modes.CBC(counter)).encryptor()
            _scatter(out, start, pieces, encryptor.update(plain) + encryptor.finalize())
        return bytes(out)
    selections = [
        (start, _selected(length, use_pattern, whole_blocks=not ctr)) for start, length in ranges
    ]
    plain = b"".join(data[s + o : s + o + n] for s, pieces in selections for o, n in pieces)
    mode = modes.CTR(counter) if ctr else modes.CBC(counter)
    encryptor = Cipher(algorithms.AES(key), mode).encryptor()
    cipher = encryptor.update(plain) + encryptor.finalize()
    position = 0
    for start, pieces in selections:
        size = sum(n for _, n in pieces)
        _scatter(out, start, pieces, cipher[position : position + size])
        position += size
    return bytes(out)


def _scatter(out: bytearray, start: int, pieces: list[tuple[int, int]], cipher: bytes) -> None:
    position = 0
    for offset, length in pieces:
        out[start + offset : start + offset + length] = cipher[position : position + length]
        position += length
