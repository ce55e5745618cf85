"""Decrypt argument checks and the subsample handling for decrypt entry points without a map.

``opencdm_session_decrypt_v2`` takes the subsample map. The 10-argument and the legacy 8-argument
``opencdm_session_decrypt`` take one contiguous buffer, so the HAL maps subsamples itself:

- cenc: the encrypted ranges are gathered into one buffer (the CTR keystream runs across them,
  partial blocks carrying over), decrypted in one call and scattered back;
- cens: the pattern's crypt blocks of every range (ISO/IEC 23001-7 partial-pattern rule applied)
  are gathered and decrypted as plain CTR: the keystream runs over the encrypted blocks only
  (pattern 0:0: every whole block, a partial tail block stays clear);
- cbc1 (10-argument only): the whole 16-byte blocks of every encrypted range are gathered (the CBC
  chain continues from range to range; a partial tail block stays clear);
- cbcs (10-argument only): one in-place call per subsample, since the constant IV and the pattern
  restart at every subsample.

The legacy form has no scheme argument (it is always AES-CTR): cbc1 and cbcs are refused.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from itertools import chain

from ._types import EncryptionScheme, Pattern, Subsample
from .errors import InvalidArgumentError

BLOCK = 16
MAX_V2_SUBSAMPLES = 255  # SampleInfo.subSampleCount is a uint8_t
MAX_LENGTH = 0xFFFFFFFF
_U32 = 0xFFFFFFFF

_SUBSAMPLE_FORMAT = "@HI"  # native SubSampleInfo {uint16_t clear_bytes; uint32_t encrypted_bytes}
_packers: dict[int, struct.Struct] = {}


def pack_subsamples(subsamples: Sequence[tuple[int, int]], length: int) -> bytes:
    """Check that ``subsamples`` cover exactly ``length`` bytes and pack them as SubSampleInfo[]."""
    count = len(subsamples)
    packer = _packers.get(count)
    if packer is None:
        packer = _packers.setdefault(count, struct.Struct("@" + "HI" * count))
    flat = tuple(chain.from_iterable(subsamples))
    if len(flat) != 2 * count:
        raise InvalidArgumentError("every subsample must be a (clear_bytes, encrypted_bytes) pair")
    try:
        packed = packer.pack(*flat)
    except struct.error as exc:
        raise InvalidArgumentError(
            "subsample sizes out of range (clear_bytes 0..65535, encrypted_bytes 0..2**32-1)"
        ) from exc
    total = sum(flat)
    if total != length:
        raise InvalidArgumentError(f"subsamples cover {total} bytes but the buffer holds {length}")
    return packed


MAX_COUNTER_CONTEXT = 24  # the OCDM IV field; Netflix counter contexts use 16..24 bytes


def check_iv(iv: bytes, *, counter_context: bool = False) -> None:
    """IVs are absent (all zero), 8 bytes (CENC, low half zero) or 16 bytes.

    With ``initWithLast15`` (the Netflix/PlayReady mode) the IV is a raw counter context of
    16..24 bytes instead.
    """
    if len(iv) in (0, 8, 16):
        return
    if counter_context and 16 <= len(iv) <= MAX_COUNTER_CONTEXT:
        return
    allowed = "0, 8 or 16..24" if counter_context else "0, 8 or 16"
    raise InvalidArgumentError(f"IV must be {allowed} bytes long, not {len(iv)}")


def check_key_id(key_id: bytes, *, allow_empty: bool) -> None:
    """Key ids are 16 bytes (empty only where the ABI allows a NULL key id)."""
    if len(key_id) == 16 or (allow_empty and not key_id):
        return
    allowed = "0 or 16" if allow_empty else "16"
    raise InvalidArgumentError(f"key id must be {allowed} bytes long, not {len(key_id)}")


def check_pattern(pattern: Pattern) -> None:
    """Pattern block counts fit uint32 and a pattern with skip blocks has crypt blocks."""
    crypt, skip = pattern
    if not (0 <= crypt <= _U32 and 0 <= skip <= _U32):
        raise InvalidArgumentError(f"pattern block counts must be 0..2**32-1, not {crypt}:{skip}")
    if crypt == 0 and skip != 0:
        raise InvalidArgumentError(f"pattern 0:{skip} encrypts no block")


def encrypted_ranges(subsamples: Sequence[Subsample], length: int) -> list[tuple[int, int]]:
    """Return (offset, size) of every non-empty encrypted run; no map means all of the buffer."""
    if not subsamples:
        return [(0, length)] if length else []
    ranges = []
    offset = 0
    for clear, encrypted in subsamples:
        offset += clear
        if encrypted:
            ranges.append((offset, encrypted))
        offset += encrypted
    return ranges


def full_block_ranges(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Trim every range to whole 16-byte blocks (a partial tail block stays clear in CBC)."""
    trimmed = [(offset, size - size % BLOCK) for offset, size in ranges]
    return [(offset, size) for offset, size in trimmed if size]


def pattern_crypt_ranges(ranges: list[tuple[int, int]], pattern: Pattern) -> list[tuple[int, int]]:
    """Return the crypt blocks of a pattern inside each protected range, merged where adjacent.

    The pattern restarts at each range; a trailing partial block and an incomplete final crypt
    group stay clear (ISO/IEC 23001-7 section 9.6.1). ``pattern.crypt`` must be positive.
    """
    crypt, skip = pattern
    out: list[tuple[int, int]] = []
    for start, size in ranges:
        blocks = size // BLOCK
        pieces = []
        block = 0
        while blocks - block >= crypt:
            pieces.append((start + block * BLOCK, crypt * BLOCK))
            block += crypt + skip
        for offset, n in pieces:
            if out and out[-1][0] + out[-1][1] == offset:
                out[-1] = (out[-1][0], out[-1][1] + n)
            else:
                out.append((offset, n))
    return out


def is_cbc(scheme: EncryptionScheme | int) -> bool:
    """Tell whether ``scheme`` is one of the AES-CBC schemes."""
    return scheme in (EncryptionScheme.CBC1, EncryptionScheme.CBCS)
