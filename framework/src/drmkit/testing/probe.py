"""Known-answer probes of a Clear Key CDM: what it really does, to check a CDM profile against.

A profile (``drmkit_hal.CdmProfile``) says what a CDM supports and gets wrong;
:func:`probe_clearkey` measures it on the library actually configured, with keys and samples of its
own, so an integrator can verify a shipped profile, or write one, for a new platform (``drmkit cdm
probe``). Clear Key is
the one key system whose licenses anyone can make, so it is the one probed; how the platform's
library carries sample descriptions to its Clear Key CDM is how it carries them to every CDM.

The probes open their own HALs on the library with the ``generic`` profile (nothing refused) and
one decrypt variant each, encrypt with drmkit's reference encryptor (``drmkit.testing.cenc``, on
pyca/cryptography's AES) and compare. They
are safe for the CDM: keys hold no 0x00 byte (OCDM-Clearkey can crash its host on those), and every
session is destructed.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from drmkit.testing.cenc import encrypt_sample
from drmkit.types import CipherMode
from drmkit.types import Pattern as CorePattern
from drmkit.types import Subsample as CoreSubsample
from drmkit_hal import (
    CdmProfile,
    CdmSession,
    DecryptVariant,
    EncryptionScheme,
    Hal,
    HalConfig,
    HalError,
    LicenseType,
    OcdmKeyStatus,
    Pattern,
    Subsample,
)

CLEARKEY = "org.w3.clearkey"
_COMMON_SYSTEM_ID = bytes.fromhex("1077efecc0b24d02ace33c1e52e2fb4b")
# A key id whose base64url holds '-' and '_' (a standard base64 decoder stops there).
_KID_URL_SAFE = bytes.fromhex("fbff" + "bf" * 14)
_KID = bytes.fromhex("2a2b2c2d2e2f30313233343536373839")
_KID_2 = bytes.fromhex("4a4b4c4d4e4f50515253545556575859")
_MAP = [Subsample(5, 300), Subsample(40, 200), Subsample(7, 0), Subsample(3, 161)]
_NO_PATTERN = Pattern(0, 0)
_WAIT_S = 5.0


@dataclass
class ProbeReport:
    """What the probes found on one library (``None``: the probe could not tell)."""

    library: str
    profile: str
    cdm_profile: str
    decrypt_v2_sample_info: bool | None = None
    encryption_schemes: list[str] = field(default_factory=list)
    init_data_types: list[str] = field(default_factory=list)
    multi_key_license: bool | None = None
    unset_system_error: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the report as JSON-friendly data."""
        return asdict(self)

    def disagreements(self, profile: CdmProfile) -> list[str]:
        """Return every point where ``profile`` says otherwise than the probes found."""
        found: list[str] = []
        claimed = {s.name.lower() for s in profile.encryption_schemes or EncryptionScheme}
        if claimed != set(self.encryption_schemes):
            found.append(f"schemes: profile {sorted(claimed)}, probed {self.encryption_schemes}")
        if profile.init_data_types is not None and set(profile.init_data_types) != set(
            self.init_data_types
        ):
            found.append(
                f"init data: profile {sorted(profile.init_data_types)},"
                f" probed {self.init_data_types}"
            )
        multi = profile.max_keys_per_license is None or profile.max_keys_per_license > 1
        if self.multi_key_license is not None and self.multi_key_license != multi:
            found.append(f"multi-key licenses: profile {multi}, probed {self.multi_key_license}")
        v2 = profile.decrypt_v2_sample_info
        if v2 is not None and self.decrypt_v2_sample_info not in (None, v2):
            found.append(
                f"decrypt_v2 sample info: profile {v2}, probed {self.decrypt_v2_sample_info}"
            )
        unset = profile.unset_system_error or 0
        if self.unset_system_error is not None and unset != self.unset_system_error:
            found.append(
                f"unset system error: profile {unset:#x}, probed {self.unset_system_error:#x}"
            )
        return found


class _Challenges:
    """Session callbacks that keep the challenges."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self._cond = threading.Condition()

    def on_challenge(self, url: str, challenge: bytes) -> None:
        with self._cond:
            self.received.append(challenge)
            self._cond.notify_all()

    def on_key_update(self, key_id: bytes) -> None:
        """Ignore key updates (statuses are read after update)."""

    def on_error(self, message: str) -> None:
        """Ignore errors (the outcome is checked instead)."""

    def on_keys_updated(self) -> None:
        """Ignore batch ends."""

    def first(self) -> bytes | None:
        with self._cond:
            self._cond.wait_for(lambda: self.received, _WAIT_S)
            return self.received[0] if self.received else None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _kid_of(text: str) -> bytes:
    # W3C Clear Key sends base64url; OCDM-Clearkey sends standard base64.
    text = text.replace("+", "-").replace("/", "_")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _common_pssh(*kids: bytes) -> bytes:
    body = b"\x01\x00\x00\x00" + _COMMON_SYSTEM_ID + struct.pack(">I", len(kids)) + b"".join(kids)
    body += struct.pack(">I", 0)
    return struct.pack(">I", 8 + len(body)) + b"pssh" + body


def _license(keys: dict[bytes, bytes]) -> bytes:
    entries = [{"kty": "oct", "kid": _b64url(k), "k": _b64url(v)} for k, v in keys.items()]
    return json.dumps({"keys": entries, "type": "temporary"}).encode()


def _key() -> bytes:
    return bytes(b or 1 for b in os.urandom(16))  # no 0x00: safe on every Clear Key CDM


_CIPHER_MODES = {
    EncryptionScheme.CENC: CipherMode.CENC,
    EncryptionScheme.CBC1: CipherMode.CBC1,
    EncryptionScheme.CENS: CipherMode.CENS,
    EncryptionScheme.CBCS: CipherMode.CBCS,
}


class _Prober:
    def __init__(self, config: HalConfig) -> None:
        self.config = config

    @contextmanager
    def hal(self, variant: DecryptVariant = DecryptVariant.TEN_ARG) -> Iterator[Hal]:
        config = dataclasses.replace(self.config, profile="generic", decrypt_variant=variant)
        with Hal.open(config) as hal:
            yield hal

    @staticmethod
    def session(hal: Hal, init_data_type: str, init_data: bytes) -> tuple[CdmSession, _Challenges]:
        challenges = _Challenges()
        session = hal.create_system(CLEARKEY).construct_session(
            LicenseType.TEMPORARY, init_data_type, init_data, b"", challenges
        )
        return session, challenges

    def parses(self, name: str, kid: bytes, init_data: bytes) -> bool:
        with self.hal() as hal:
            session, challenges = self.session(hal, name, init_data)
            challenge = challenges.first()
            session.destruct()
        if challenge is None:
            return False
        try:
            return [_kid_of(k) for k in json.loads(challenge).get("kids", [])] == [kid]
        except (ValueError, TypeError, AttributeError):
            return False

    def decrypts(
        self,
        variant: DecryptVariant,
        scheme: EncryptionScheme,
        subsamples: list[Subsample],
        pattern: Pattern,
    ) -> bool:
        key = _key()
        clear = os.urandom(sum(c + e for c, e in subsamples) if subsamples else 1000)
        iv = os.urandom(16)
        encrypted = encrypt_sample(
            clear,
            key,
            iv,
            _CIPHER_MODES[scheme],
            [CoreSubsample(c, e) for c, e in subsamples],
            CorePattern(*pattern),
        )
        buffer = bytearray(encrypted)
        with self.hal(variant) as hal:
            session, _ = self.session(hal, "cenc", _common_pssh(_KID))
            try:
                session.update(_license({_KID: key}))
                session.decrypt(
                    buffer, scheme=scheme, iv=iv, key_id=_KID, subsamples=subsamples,
                    pattern=pattern,
                )  # fmt: skip
            except HalError:
                return False
            finally:
                session.destruct()
        return bytes(buffer) == clear

    def multi_key(self) -> tuple[bool, int]:
        keys = {_KID: _key(), _KID_2: _key()}
        with self.hal() as hal:
            session, _ = self.session(hal, "cenc", _common_pssh(*keys))
            try:
                unset = session.system_error()  # the generic profile reads it raw
                session.update(_license(keys))
                return all(session.status(k) is OcdmKeyStatus.USABLE for k in keys), unset
            finally:
                session.destruct()


def probe_clearkey(config: HalConfig) -> ProbeReport:
    """Measure what the Clear Key CDM of the library in ``config`` does right.

    Raises:
        HalError: the library cannot be loaded or has no Clear Key system.

    """
    prober = _Prober(config)
    with Hal.open(config) as hal:
        report = ProbeReport(hal.library_path, hal.profile.name, hal.cdm_profile(CLEARKEY).name)
        has_v2 = hal.exports("opencdm_session_decrypt_v2")
    for name, kid, init_data in (
        ("cenc", _KID_URL_SAFE, _common_pssh(_KID_URL_SAFE)),
        ("keyids", _KID_URL_SAFE, json.dumps({"kids": [_b64url(_KID_URL_SAFE)]}).encode()),
        ("webm", _KID, _KID),
    ):
        if prober.parses(name, kid, init_data):
            report.init_data_types.append(name)
    report.multi_key_license, report.unset_system_error = prober.multi_key()
    ten = DecryptVariant.TEN_ARG
    if has_v2:
        v2 = DecryptVariant.V2
        report.decrypt_v2_sample_info = prober.decrypts(
            v2, EncryptionScheme.CENC, _MAP, _NO_PATTERN
        ) and prober.decrypts(v2, EncryptionScheme.CENS, [], Pattern(1, 9))
    report.encryption_schemes.append("clear")
    for scheme, pattern in (
        (EncryptionScheme.CENC, _NO_PATTERN),
        (EncryptionScheme.CBC1, _NO_PATTERN),
        (EncryptionScheme.CENS, Pattern(1, 9)),
        (EncryptionScheme.CBCS, Pattern(1, 9)),
    ):
        if all(prober.decrypts(ten, scheme, map_, pattern) for map_ in ([], _MAP)):
            report.encryption_schemes.append(scheme.name.lower())
    return report
