"""Widevine CDM messages: the ``"<n>:Type:"`` prefix and what it says.

OCDM Widevine delivers every challenge as ``"<n>:Type:"`` + the message, ``n`` being Widevine's
message type (0 license request, 1 renewal, 2 release, 3 individualization); the prefix is an
OCDM transport detail that license servers never see (browsers strip it). A message without the
prefix is passed through unclassified (the core then tells a request from a renewal by order).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drmkit.sdk import MessageType

_PREFIX = re.compile(rb"^([0-9]{1,3}):Type:")


@dataclass(frozen=True, slots=True)
class CdmMessage:
    """A challenge with its prefix removed.

    ``message_type`` is ``None`` when there was no prefix or the number is not a known type
    (``raw_type`` keeps the number then).
    """

    body: bytes
    message_type: MessageType | None
    raw_type: int | None = None


def split_message(challenge: bytes) -> CdmMessage:
    """Strip a leading ``"<n>:Type:"`` from ``challenge`` and classify it."""
    match = _PREFIX.match(challenge)
    if match is None:
        return CdmMessage(bytes(challenge), None)
    number = int(match.group(1))
    try:
        kind: MessageType | None = MessageType(number)
    except ValueError:
        kind = None
    return CdmMessage(bytes(challenge[match.end() :]), kind, number)


def add_prefix(body: bytes, message_type: MessageType) -> bytes:
    """Return ``body`` with the OCDM Widevine prefix (for tests and simulations)."""
    return f"{int(message_type)}:Type:".encode("ascii") + body
