"""CENC test samples (``cenc`` scheme, AES-128-CTR) made with an AES independent of the CDM.

pyca/cryptography encrypts them, so the demo checks the CDM's decryption against a second opinion.

Per ISO/IEC 23001-7 the keystream of a sample runs over the concatenation of its protected ranges:
a range that ends mid-block continues the same keystream block in the next range. An 8-byte IV is
the high half of the counter block (low half zero).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from drmkit.core import Subsample


@dataclass(frozen=True, slots=True)
class CencSample:
    """One sample: its clear bytes, encrypted bytes, IV and subsample map (empty: all protected)."""

    clear: bytes
    encrypted: bytes
    iv: bytes
    subsamples: tuple[Subsample, ...]


def encrypt_cenc(
    clear: bytes, key: bytes, iv: bytes, subsamples: tuple[Subsample, ...] = ()
) -> bytes:
    """Encrypt ``clear`` with AES-128-CTR over its protected ranges (the ``cenc`` scheme)."""
    if len(iv) not in (8, 16):
        raise ValueError("a cenc IV is 8 or 16 bytes")
    counter_block = iv.ljust(16, b"\0")
    encryptor = Cipher(algorithms.AES(key), modes.CTR(counter_block)).encryptor()
    if not subsamples:
        return encryptor.update(clear) + encryptor.finalize()
    if sum(s.clear_bytes + s.encrypted_bytes for s in subsamples) != len(clear):
        raise ValueError("the subsamples do not cover the sample")
    out = bytearray()
    offset = 0
    for sub in subsamples:
        out += clear[offset : offset + sub.clear_bytes]
        offset += sub.clear_bytes
        # One encryptor for the whole sample: CTR carries partial blocks across ranges.
        out += encryptor.update(clear[offset : offset + sub.encrypted_bytes])
        offset += sub.encrypted_bytes
    out += encryptor.finalize()
    return bytes(out)


def make_samples(key: bytes, count: int = 8, *, seed: int | None = None) -> list[CencSample]:
    """Return ``count`` random samples encrypted with ``key``.

    They mix what real streams contain: whole-sample encryption, video-like subsample maps with
    clear headers, protected ranges that end mid-block, 8- and 16-byte IVs.
    """
    rng = random.Random(seed)
    samples = []
    for index in range(count):
        iv = rng.randbytes(8 if index % 2 == 0 else 16)
        if index % 4 == 0:
            clear = rng.randbytes(rng.randint(16, 512))
            subsamples: tuple[Subsample, ...] = ()
        else:
            subsamples = tuple(
                Subsample(rng.randint(1, 64), rng.randint(1, 400)) for _ in range(rng.randint(1, 4))
            )
            size = sum(s.clear_bytes + s.encrypted_bytes for s in subsamples)
            clear = rng.randbytes(size)
        samples.append(CencSample(clear, encrypt_cenc(clear, key, iv, subsamples), iv, subsamples))
    return samples
