"""Events a key session delivers to its listener or async iterator, and the listener protocol.

The three events mirror Rialto's ``IMediaKeysClient``: a license request (first challenge after a
generate request, with the url the CDM suggests), a license renewal (any later challenge) and a
batch of key statuses (every key reported since the previous "all keys updated" callback). Events
are delivered on the event loop that owns the session, in the order the CDM produced them.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol, TypeAlias, runtime_checkable


class KeyStatus(enum.IntEnum):
    """Status of one key (Rialto ``KeyStatus``; wire values match ``KeyStatusPair.key_status``)."""

    USABLE = 0
    EXPIRED = 1
    OUTPUT_RESTRICTED = 2
    PENDING = 3
    INTERNAL_ERROR = 4
    RELEASED = 5


class MessageType(enum.IntEnum):
    """What a CDM message is (EME ``MediaKeyMessageType``; values of Widevine's ``"<n>:Type:"``).

    Plugins that know the type (e.g. from a message prefix) pass it with the challenge; otherwise
    the first challenge after a generate request is a license request and any later one a renewal.
    """

    LICENSE_REQUEST = 0
    LICENSE_RENEWAL = 1
    LICENSE_RELEASE = 2
    INDIVIDUALIZATION_REQUEST = 3


@dataclass(frozen=True, slots=True)
class LicenseRequest:
    """The CDM asks for a license: the first challenge after a generate request.

    ``url`` is the license server the CDM suggests; it may be empty. ``message_type`` is
    ``INDIVIDUALIZATION_REQUEST`` when the CDM must be provisioned before it can ask.
    """

    session_id: int
    message: bytes
    url: str
    message_type: MessageType = MessageType.LICENSE_REQUEST


@dataclass(frozen=True, slots=True)
class LicenseRenewal:
    """The CDM asks for a renewal: a challenge that no generate request asked for.

    ``message_type`` tells a renewal from a license-release message (after ``remove``) when the
    key system's plugin knows it.
    """

    session_id: int
    message: bytes
    message_type: MessageType = MessageType.LICENSE_RENEWAL


@dataclass(frozen=True, slots=True)
class KeyStatusesChanged:
    """A batch of key statuses: every key the CDM reported since the previous batch, in order."""

    session_id: int
    key_statuses: tuple[tuple[bytes, KeyStatus], ...]


KeySessionEvent: TypeAlias = LicenseRequest | LicenseRenewal | KeyStatusesChanged
"""Any event a key session delivers."""


@runtime_checkable
class MediaKeysListener(Protocol):
    """Receives one session's events (the shape of Rialto's ``IMediaKeysClient``).

    Methods run on the session's event loop. A method may return an awaitable; drmkit schedules it
    as a task. An exception raised by a listener is logged and does not affect the session.
    """

    def on_license_request(
        self, session_id: int, message: bytes, url: str
    ) -> Awaitable[None] | None:
        """Handle a license request for ``session_id``; ``url`` may be empty."""

    def on_license_renewal(self, session_id: int, message: bytes) -> Awaitable[None] | None:
        """Handle a license renewal for ``session_id``."""

    def on_key_statuses_changed(
        self, session_id: int, key_statuses: tuple[tuple[bytes, KeyStatus], ...]
    ) -> Awaitable[None] | None:
        """Handle a batch of ``(key_id, status)`` pairs for ``session_id``."""
