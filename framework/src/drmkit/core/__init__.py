"""The key-system-agnostic core: MediaKeys, key sessions, their states, events and errors.

Typical use (async)::

    factory = container.media_keys_factory()
    async with await factory.create_media_keys("org.w3.clearkey") as media_keys:
        session = await media_keys.create_session(KeySessionType.TEMPORARY)
        events = session.events()
        await session.generate_request(InitDataType.KEY_IDS, init_data)
        request = await events.next(timeout=5)          # LicenseRequest
        await session.update(license_for(request.message))
        statuses = await events.next(timeout=5)         # KeyStatusesChanged
        await session.decrypt(sample, DecryptParams(CipherMode.CENC, key_id, iv, subsamples))
        await session.close()
        await session.release()

The API itself is :mod:`drmkit.core.api`: ``MediaKeysFactoryApi``, ``MediaKeysApi`` and
``KeySessionApi``, protocols that these classes and the session server's client
(``drmkit.client``) both implement (checked by mypy below and in ``drmkit.client``).
"""

from typing import TYPE_CHECKING

from drmkit.core.api import KeySessionApi, MediaKeysApi, MediaKeysFactoryApi
from drmkit.core.factory import MediaKeysFactory
from drmkit.core.ids import INVALID_SESSION_ID
from drmkit.core.listeners import EventStream
from drmkit.core.media_keys import MediaKeys
from drmkit.core.session import KeySession
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
    LimitExceededError,
    MediaKeyErrorStatus,
    NotSupportedError,
    OperationTimeoutError,
    OutputRestrictedError,
)
from drmkit.events import (
    KeySessionEvent,
    KeyStatus,
    KeyStatusesChanged,
    LicenseRenewal,
    LicenseRequest,
    MediaKeysListener,
    MessageType,
)
from drmkit.types import (
    CipherMode,
    DecryptParams,
    InitDataType,
    KeySessionType,
    LimitedDurationLicense,
    Pattern,
    SessionState,
    Subsample,
)

__all__ = [
    "INVALID_SESSION_ID",
    "BadSessionIdError",
    "BufferTooSmallError",
    "CipherMode",
    "DecryptParams",
    "DrmError",
    "EventStream",
    "FailError",
    "InitDataType",
    "InterfaceNotImplementedError",
    "InvalidInitDataError",
    "InvalidInputError",
    "InvalidKeyIdError",
    "InvalidLicenseError",
    "InvalidStateError",
    "KeySession",
    "KeySessionApi",
    "KeySessionEvent",
    "KeySessionType",
    "KeyStatus",
    "KeyStatusesChanged",
    "LicenseRenewal",
    "LicenseRequest",
    "LimitExceededError",
    "LimitedDurationLicense",
    "MediaKeyErrorStatus",
    "MediaKeys",
    "MediaKeysApi",
    "MediaKeysFactory",
    "MediaKeysFactoryApi",
    "MediaKeysListener",
    "MessageType",
    "NotSupportedError",
    "OperationTimeoutError",
    "OutputRestrictedError",
    "Pattern",
    "SessionState",
    "Subsample",
]


if TYPE_CHECKING:

    def _implements_the_mks_api(
        factory: MediaKeysFactory, media_keys: MediaKeys, session: KeySession
    ) -> tuple[MediaKeysFactoryApi, MediaKeysApi, KeySessionApi]:
        """Never called: mypy fails here if the core drifts from :mod:`drmkit.core.api`."""
        return factory, media_keys, session
