"""Value types of the HAL: the OCDM enums (exact ABI values) and small records."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import NamedTuple


class LicenseType(IntEnum):
    """OCDM ``LicenseType`` (the EME session type)."""

    TEMPORARY = 0
    PERSISTENT_USAGE_RECORD = 1
    PERSISTENT_LICENSE = 2


class EncryptionScheme(IntEnum):
    """OCDM ``EncryptionScheme`` (ISO/IEC 23001-7 protection schemes)."""

    CLEAR = 0
    CENC = 1
    CBC1 = 2
    CENS = 3
    CBCS = 4


class MediaType(IntEnum):
    """OCDM ``MediaType`` of ``MediaProperties``."""

    UNKNOWN = 0
    VIDEO = 1
    AUDIO = 2
    DATA = 3


class OcdmKeyStatus(IntEnum):
    """OCDM ``KeyStatus`` of one key id in a session (named apart from drmkit's ``KeyStatus``)."""

    USABLE = 0
    EXPIRED = 1
    RELEASED = 2
    OUTPUT_RESTRICTED = 3
    OUTPUT_RESTRICTED_HDCP22 = 4
    OUTPUT_DOWNSCALED = 5
    STATUS_PENDING = 6
    INTERNAL_ERROR = 7
    HW_ERROR = 8


class OcdmStatus(IntEnum):
    """OCDM ``OpenCDMError`` (a 4-byte unsigned enum: several values exceed ``INT_MAX``)."""

    NONE = 0
    UNKNOWN = 1
    MORE_DATA_AVAILABLE = 2
    INTERFACE_NOT_IMPLEMENTED = 3
    BUFFER_TOO_SMALL = 4
    INVALID_ACCESSOR = 0x80000001
    KEYSYSTEM_NOT_SUPPORTED = 0x80000002
    INVALID_SESSION = 0x80000003
    INVALID_DECRYPT_BUFFER = 0x80000004
    OUT_OF_MEMORY = 0x80000005
    METHOD_NOT_IMPLEMENTED = 0x80000006
    FAIL = 0x80004005
    INVALID_ARG = 0x80070057
    SERVER_INTERNAL_ERROR = 0x8004C600
    SERVER_INVALID_MESSAGE = 0x8004C601
    SERVER_SERVICE_SPECIFIC = 0x8004C604
    BUSY_CANNOT_INITIALIZE = 0x8004DD00

    @classmethod
    def of(cls, value: int) -> OcdmStatus | int:
        """Return the member for ``value``, or the raw integer for a code outside the ABI."""
        try:
            return cls(value)
        except ValueError:
            return value


class DecryptVariant(StrEnum):
    """Which OCDM decrypt entry point the HAL calls (see ``docs/hal.md``)."""

    AUTO = "auto"
    V2 = "v2"
    TEN_ARG = "ten_arg"
    LEGACY = "legacy"


class Subsample(NamedTuple):
    """One ``[clear][encrypted]`` run of a sample (``SubSampleInfo``)."""

    clear_bytes: int
    encrypted_bytes: int


class Pattern(NamedTuple):
    """A cens/cbcs pattern in 16-byte blocks; ``Pattern(0, 0)`` means no pattern."""

    crypt: int
    skip: int


class MediaProperties(NamedTuple):
    """OCDM ``MediaProperties`` passed to ``opencdm_session_decrypt_v2``."""

    height: int = 0
    width: int = 0
    media_type: MediaType = MediaType.UNKNOWN


class PlayLevels(NamedTuple):
    """OCDM ``PlayLevels``: output-protection levels parsed from a "properties" message."""

    compressed_digital_video: int
    uncompressed_digital_video: int
    analog_video: int
    compressed_digital_audio: int
    uncompressed_digital_audio: int
    max_decode_width: int
    max_decode_height: int
