"""Value types of the MKS API: session types, init data types, states, decrypt parameters."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple


class KeySessionType(enum.IntEnum):
    """Type of a key session (Rialto ``KeySessionType``; wire values match the proto)."""

    UNKNOWN = 0
    TEMPORARY = 1
    PERSISTENT_LICENCE = 2
    PERSISTENT_RELEASE_MESSAGE = 3


class InitDataType(enum.StrEnum):
    """Init data types (Rialto ``InitDataType``); the value is the OCDM init-data-type string."""

    UNKNOWN = "unknown"
    CENC = "cenc"
    KEY_IDS = "keyids"
    WEBM = "webm"
    DRMHEADER = "drmheader"


class LimitedDurationLicense(enum.IntEnum):
    """LDL request of a generate request (PlayReady/Netflix); ``NOT_SPECIFIED`` elsewhere."""

    NOT_SPECIFIED = 0
    ENABLED = 1
    DISABLED = 2


class SessionState(enum.Enum):
    """Lifecycle state of a key session.

    ``CREATED`` → (generate request | load) → ``ACTIVE`` → (remove) → ``REMOVED``;
    ``ACTIVE``/``REMOVED`` → (close) → ``CLOSED``; any → (release) → released (the id is then
    unknown: ``BAD_SESSION_ID``).
    """

    CREATED = "created"
    ACTIVE = "active"
    REMOVED = "removed"
    CLOSED = "closed"
    RELEASED = "released"


class CipherMode(enum.StrEnum):
    """Common Encryption scheme of a sample (Rialto ``CipherMode``)."""

    CENC = "cenc"
    CBC1 = "cbc1"
    CENS = "cens"
    CBCS = "cbcs"


class Subsample(NamedTuple):
    """One subsample: ``clear_bytes`` followed by ``encrypted_bytes``."""

    clear_bytes: int
    encrypted_bytes: int


class Pattern(NamedTuple):
    """Encryption pattern in 16-byte blocks (``0, 0`` = no pattern)."""

    crypt: int
    skip: int


NO_PATTERN = Pattern(0, 0)
"""No encryption pattern (every block of an encrypted range is encrypted)."""


@dataclass(frozen=True, slots=True)
class DecryptParams:
    """How one sample is encrypted (the protection metadata Rialto carries per segment).

    ``key_id`` may be empty when the key system selects keys with ``select_key_id``. Empty
    ``subsamples`` means the whole sample is encrypted.
    """

    cipher_mode: CipherMode
    key_id: bytes
    iv: bytes
    subsamples: Sequence[Subsample] = ()
    pattern: Pattern = NO_PATTERN
    init_with_last_15: bool = False
