"""Helpers of the HAL tests: a callback recorder, ClearKey message builders, and an independent
ISO/IEC 23001-7 encryptor built on ``cryptography`` to cross-check the CDM's decryption."""

from __future__ import annotations

import base64
import json
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from drmkit_hal import CdmSession, EncryptionScheme, Hal, Pattern, Subsample

CLEARKEY = "org.w3.clearkey"
WIDEVINE = "com.widevine.alpha"
PLAYREADY = "com.microsoft.playready"
NETFLIX = "com.netflix.playready"
NO_PATTERN = Pattern(0, 0)
COMMON_SYSTEM_ID = bytes.fromhex("1077efecc0b24d02ace33c1e52e2fb4b")


# ---- callbacks --------------------------------------------------------------------------------


@dataclass
class Recorder:
    """SessionCallbacks that records events with the thread they arrived on."""

    events: list[tuple[object, ...]] = field(default_factory=list)
    threads: list[int] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)
    hook: Callable[[str], None] | None = None

    def _add(self, event: tuple[object, ...]) -> None:
        with self.cond:
            self.events.append(event)
            self.threads.append(threading.get_ident())
            self.cond.notify_all()
        if self.hook is not None:
            self.hook(str(event[0]))

    def on_challenge(self, url: str, challenge: bytes) -> None:
        self._add(("challenge", url, challenge))

    def on_key_update(self, key_id: bytes) -> None:
        self._add(("key_update", key_id))

    def on_error(self, message: str) -> None:
        self._add(("error", message))

    def on_keys_updated(self) -> None:
        self._add(("keys_updated",))

    def of(self, kind: str) -> list[tuple[object, ...]]:
        with self.cond:
            return [e for e in self.events if e[0] == kind]

    def wait_for(self, kind: str, count: int = 1, timeout: float = 5.0) -> list[tuple[object, ...]]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len([e for e in self.events if e[0] == kind]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {count} {kind}: {self.events}")
                self.cond.wait(left)
            return [e for e in self.events if e[0] == kind]

    def clear(self) -> None:
        with self.cond:
            self.events.clear()
            self.threads.clear()


# ---- ClearKey messages ------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def keyids_init_data(*kids: bytes) -> bytes:
    return json.dumps({"kids": [b64url(k) for k in kids]}).encode()


def common_pssh(*kids: bytes) -> bytes:
    body = b"\x01\x00\x00\x00" + COMMON_SYSTEM_ID + struct.pack(">I", len(kids)) + b"".join(kids)
    body += struct.pack(">I", 0)
    return struct.pack(">I", 8 + len(body)) + b"pssh" + body


def jwk_license(keys: dict[bytes, bytes], session_type: str = "temporary") -> bytes:
    return json.dumps(
        {
            "keys": [{"kty": "oct", "kid": b64url(k), "k": b64url(v)} for k, v in keys.items()],
            "type": session_type,
        }
    ).encode()


# ---- Clear Key on whatever CDM the library has ------------------------------------------------


def clearkey_init_data(hal: Hal, *kids: bytes) -> tuple[str, bytes]:
    """Init data naming ``kids`` in a form the library's Clear Key CDM parses (its profile)."""
    if hal.cdm_profile(CLEARKEY).parses_init_data_type("keyids"):
        return "keyids", keyids_init_data(*kids)
    return "cenc", common_pssh(*kids)


def usable_keys(hal: Hal, *kids: bytes) -> dict[bytes, bytes]:
    """A random key per key id that the library's Clear Key CDM can use."""
    profile = hal.cdm_profile(CLEARKEY)
    return {kid: profile.random_key() for kid in kids}


def give_license(hal: Hal, session: CdmSession, keys: dict[bytes, bytes]) -> None:
    """Update ``session`` with ``keys``, as many per license as the library's CDM takes."""
    limit = hal.cdm_profile(CLEARKEY).max_keys_per_license or len(keys)
    items = list(keys.items())
    for start in range(0, len(items), limit):
        session.update(jwk_license(dict(items[start : start + limit])))


def sim_license(key_system: str, session_id: str, keys: dict[bytes, bytes], **status: str) -> bytes:
    """drmkit's test license format of the simulated key systems (docs/reference-cdm.md)."""
    return json.dumps(
        {
            "drmkit_test_license": 1,
            "key_system": key_system,
            "session_id": session_id,
            "keys": [
                {"kid": k.hex(), "key": v.hex(), "status": status.get(k.hex(), "usable")}
                for k, v in keys.items()
            ],
        }
    ).encode()


# ---- ISO/IEC 23001-7 reference encryptor ------------------------------------------------------


def _ranges(length: int, subsamples: Sequence[Subsample]) -> list[tuple[int, int]]:
    if not subsamples:
        return [(0, length)]
    out, offset = [], 0
    for clear, encrypted in subsamples:
        offset += clear
        out.append((offset, encrypted))
        offset += encrypted
    return out


def _pattern_blocks(start: int, size: int, pattern: Pattern) -> list[tuple[int, int]]:
    """Crypt blocks of one protected range; incomplete final crypt group and tail stay clear."""
    crypt, skip = pattern
    out, block, blocks = [], 0, size // 16
    while blocks - block >= crypt:
        out.append((start + 16 * block, 16 * crypt))
        block += crypt + skip
    return out


def _apply(
    data: bytearray, pieces: list[tuple[int, int]], transform: Callable[[bytes], bytes]
) -> None:
    joined = b"".join(bytes(data[o : o + n]) for o, n in pieces)
    out = transform(joined)
    pos = 0
    for o, n in pieces:
        data[o : o + n] = out[pos : pos + n]
        pos += n


def encrypt_sample(
    scheme: EncryptionScheme,
    key: bytes,
    iv: bytes,
    clear: bytes,
    subsamples: Sequence[Subsample] = (),
    pattern: Pattern = NO_PATTERN,
) -> bytes:
    """Encrypt ``clear`` as ISO/IEC 23001-7 ``scheme`` would (the independent oracle)."""
    counter = iv.ljust(16, b"\x00")
    data = bytearray(clear)
    ranges = _ranges(len(data), subsamples)

    def ctr(chunk: bytes) -> bytes:
        return Cipher(algorithms.AES(key), modes.CTR(counter)).encryptor().update(chunk)

    def cbc(chunk: bytes) -> bytes:
        return Cipher(algorithms.AES(key), modes.CBC(counter)).encryptor().update(chunk)

    if scheme is EncryptionScheme.CENC:
        _apply(data, [r for r in ranges if r[1]], ctr)
    elif scheme is EncryptionScheme.CENS and not pattern.crypt:  # no pattern: partial tail clear
        _apply(data, [(o, n - n % 16) for o, n in ranges if n >= 16], ctr)
    elif scheme is EncryptionScheme.CENS:
        pieces = [p for start, size in ranges for p in _pattern_blocks(start, size, pattern)]
        _apply(data, pieces, ctr)
    elif scheme is EncryptionScheme.CBC1:
        _apply(data, [(o, n - n % 16) for o, n in ranges if n >= 16], cbc)
    elif scheme is EncryptionScheme.CBCS:
        for start, size in ranges:  # the constant IV is re-applied at every subsample
            if pattern.crypt:
                pieces = _pattern_blocks(start, size, pattern)
            else:
                pieces = [(start, size - size % 16)] if size >= 16 else []
            if pieces:
                _apply(data, pieces, cbc)
    return bytes(data)
