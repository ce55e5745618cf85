"""Conversions between OCDM values and drmkit's (Rialto's tables, ``rialto-mks`` §2.5 and §4.2)."""

from __future__ import annotations

from drmkit.errors import MediaKeyErrorStatus
from drmkit.events import KeyStatus
from drmkit.types import CipherMode, KeySessionType

# OpenCDMError values (hal/include/drmkit/open_cdm.h).
_ERROR_NONE = 0
_ERROR_INTERFACE_NOT_IMPLEMENTED = 3
_ERROR_BUFFER_TOO_SMALL = 4
_ERROR_KEYSYSTEM_NOT_SUPPORTED = 0x80000002
_ERROR_INVALID_SESSION = 0x80000003
_ERROR_METHOD_NOT_IMPLEMENTED = 0x80000006

_STATUS_BY_OCDM_ERROR = {
    _ERROR_NONE: MediaKeyErrorStatus.OK,
    _ERROR_INVALID_SESSION: MediaKeyErrorStatus.BAD_SESSION_ID,
    _ERROR_INTERFACE_NOT_IMPLEMENTED: MediaKeyErrorStatus.INTERFACE_NOT_IMPLEMENTED,
    _ERROR_METHOD_NOT_IMPLEMENTED: MediaKeyErrorStatus.INTERFACE_NOT_IMPLEMENTED,
    _ERROR_BUFFER_TOO_SMALL: MediaKeyErrorStatus.BUFFER_TOO_SMALL,
    _ERROR_KEYSYSTEM_NOT_SUPPORTED: MediaKeyErrorStatus.NOT_SUPPORTED,
}

# OCDM KeyStatus values: Usable 0, Expired 1, Released 2, OutputRestricted 3,
# OutputRestrictedHDCP22 4, OutputDownscaled 5, StatusPending 6, InternalError 7, HWError 8.
_KEY_STATUS_BY_OCDM = {
    0: KeyStatus.USABLE,
    1: KeyStatus.EXPIRED,
    2: KeyStatus.RELEASED,
    3: KeyStatus.OUTPUT_RESTRICTED,
    4: KeyStatus.OUTPUT_RESTRICTED,
    6: KeyStatus.PENDING,
}

OCDM_OUTPUT_RESTRICTED = frozenset({3, 4})
"""OCDM key statuses that mean an output-protection (HDCP) restriction."""

HDCP_FAILURE_DRM_ERROR = 4427
"""The last-DRM-error code Rialto maps to ``OUTPUT_RESTRICTED`` after a failed decrypt."""


def media_key_status_for(ocdm_error: int) -> MediaKeyErrorStatus:
    """Map an ``OpenCDMError`` to a status (anything unlisted is ``FAIL``)."""
    return _STATUS_BY_OCDM_ERROR.get(int(ocdm_error), MediaKeyErrorStatus.FAIL)


def key_status_for(ocdm_key_status: int) -> KeyStatus:
    """Map an OCDM ``KeyStatus`` to drmkit's (downscaled, HW and unknown are INTERNAL_ERROR)."""
    return _KEY_STATUS_BY_OCDM.get(int(ocdm_key_status), KeyStatus.INTERNAL_ERROR)


def license_type_for(session_type: KeySessionType) -> int:
    """Map a session type to an OCDM ``LicenseType`` (PERSISTENT_LICENCE → 2, else Temporary 0)."""
    return 2 if session_type is KeySessionType.PERSISTENT_LICENCE else 0


def encryption_scheme_for(cipher_mode: CipherMode) -> int:
    """Map a cipher mode to an OCDM ``EncryptionScheme`` value."""
    return {
        CipherMode.CENC: 1,
        CipherMode.CBC1: 2,
        CipherMode.CENS: 3,
        CipherMode.CBCS: 4,
    }[cipher_mode]
