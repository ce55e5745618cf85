"""The plugin SDK: everything a key-system plugin imports from drmkit.

A plugin is a module or object with functions named after the hooks in ``drmkit.hookspecs``,
decorated with :data:`hookimpl`, published through an entry point in group ``drmkit.keysystems``::

    [project.entry-points."drmkit.keysystems"]
    clearkey = "drmkit_clearkey.plugin:plugin"

Plugins that drive an OpenCDM library subclass :class:`OcdmKeySystemPlugin`, which implements
every hook with the generic OCDM call sequence, and override only what differs. A plugin imports
from this package (and, in its tests, ``drmkit.testing``) and from ``drmkit_hal``; nothing else of
drmkit is plugin API. ``docs/plugin-guide.md`` walks through writing and testing a plugin.
"""

from __future__ import annotations

from drmkit.errors import (
    BadSessionIdError,
    BufferTooSmallError,
    DrmError,
    FailError,
    InterfaceNotImplementedError,
    InvalidInitDataError,
    InvalidInputError,
    InvalidKeyIdError,
    InvalidLicenseError,
    InvalidStateError,
    MediaKeyErrorStatus,
    NotSupportedError,
    OutputRestrictedError,
)
from drmkit.events import (
    KeyStatus,
    KeyStatusesChanged,
    LicenseRenewal,
    LicenseRequest,
    MessageType,
)
from drmkit.sdk.helpers import BaseLicenseHelper, DemoCheckError, DemoStep
from drmkit.sdk.markers import ENTRY_POINT_GROUP, PROJECT_NAME, hookimpl
from drmkit.sdk.model import (
    KeySystemCapabilities,
    KeySystemInfo,
    LicenseHelper,
    SessionCallbacks,
    SessionContext,
    SystemContext,
    adapt_capabilities,
)
from drmkit.sdk.ocdm import KeyBatchGate, OcdmKeySystemPlugin, OcdmSessionState
from drmkit.sdk.ocdm_status import (
    encryption_scheme_for,
    key_status_for,
    license_type_for,
    media_key_status_for,
)
from drmkit.sdk.pssh import (
    COMMON_SYSTEM_ID,
    PLAYREADY_SYSTEM_ID,
    SYSTEM_NAMES,
    WIDEVINE_SYSTEM_ID,
    PsshBox,
    PsshError,
    build_pssh_box,
    parse_pssh_box,
    parse_pssh_boxes,
    system_name,
)
from drmkit.sdk.test_license import (
    TestChallenge,
    TestChallengeError,
    TestLicense,
    TestLicenseEndpoint,
    build_test_license,
    check_test_license,
    license_document,
    parse_json_test_challenge,
    parse_xml_test_challenge,
)
from drmkit.types import (
    NO_PATTERN,
    CipherMode,
    DecryptParams,
    InitDataType,
    KeySessionType,
    LimitedDurationLicense,
    Pattern,
    Subsample,
)

__all__ = [
    "COMMON_SYSTEM_ID",
    "ENTRY_POINT_GROUP",
    "NO_PATTERN",
    "PLAYREADY_SYSTEM_ID",
    "PROJECT_NAME",
    "SYSTEM_NAMES",
    "WIDEVINE_SYSTEM_ID",
    "BadSessionIdError",
    "BaseLicenseHelper",
    "BufferTooSmallError",
    "CipherMode",
    "DecryptParams",
    "DemoCheckError",
    "DemoStep",
    "DrmError",
    "FailError",
    "InitDataType",
    "InterfaceNotImplementedError",
    "InvalidInitDataError",
    "InvalidInputError",
    "InvalidKeyIdError",
    "InvalidLicenseError",
    "InvalidStateError",
    "KeyBatchGate",
    "KeySessionType",
    "KeyStatus",
    "KeyStatusesChanged",
    "KeySystemCapabilities",
    "KeySystemInfo",
    "LicenseHelper",
    "LicenseRenewal",
    "LicenseRequest",
    "LimitedDurationLicense",
    "MediaKeyErrorStatus",
    "MessageType",
    "NotSupportedError",
    "OcdmKeySystemPlugin",
    "OcdmSessionState",
    "OutputRestrictedError",
    "Pattern",
    "PsshBox",
    "PsshError",
    "SessionCallbacks",
    "SessionContext",
    "Subsample",
    "SystemContext",
    "TestChallenge",
    "TestChallengeError",
    "TestLicense",
    "TestLicenseEndpoint",
    "adapt_capabilities",
    "build_pssh_box",
    "build_test_license",
    "check_test_license",
    "encryption_scheme_for",
    "hookimpl",
    "key_status_for",
    "license_document",
    "license_type_for",
    "media_key_status_for",
    "parse_json_test_challenge",
    "parse_pssh_box",
    "parse_pssh_boxes",
    "parse_xml_test_challenge",
    "system_name",
]
