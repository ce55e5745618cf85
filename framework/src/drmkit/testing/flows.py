"""Helpers that drive a key session through the license exchange (conformance suite, demos)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from drmkit.core.api import KeySessionApi, MediaKeysApi
from drmkit.core.listeners import EventStream
from drmkit.events import KeySessionEvent, KeyStatusesChanged, LicenseRequest
from drmkit.sdk.model import LicenseHelper
from drmkit.types import KeySessionType

if TYPE_CHECKING:
    from drmkit_hal import CdmProfile

EVENT_TIMEOUT_S = 5.0
"""How long a test waits for one event (rialto-conformance uses 5000 ms)."""


async def next_event(
    events: EventStream, kind: type[KeySessionEvent] | None = None, timeout: float = EVENT_TIMEOUT_S
) -> KeySessionEvent:
    """Return the next event (of type ``kind`` if given; others before it are skipped)."""
    while True:
        event = await events.next(timeout)
        if kind is None or isinstance(event, kind):
            return event


def new_keys(count: int = 1, profile: CdmProfile | None = None) -> dict[bytes, bytes]:
    """Return ``count`` random 16-byte key ids with random 16-byte keys.

    With a CDM ``profile``, every key is one that CDM can use.
    """
    if profile is None:
        return {os.urandom(16): os.urandom(16) for _ in range(count)}
    return {os.urandom(16): profile.random_key() for _ in range(count)}


@dataclass
class LicensedSession:
    """A session that went through generate request and update."""

    session: KeySessionApi
    events: EventStream
    keys: dict[bytes, bytes]
    request: LicenseRequest
    statuses: KeyStatusesChanged
    init_data_type: str = ""
    extra: dict[str, object] = field(default_factory=dict)


async def license_session(
    media_keys: MediaKeysApi,
    helper: LicenseHelper,
    keys: dict[bytes, bytes] | None = None,
    *,
    session_type: KeySessionType = KeySessionType.TEMPORARY,
    init_data_type: str | None = None,
) -> LicensedSession:
    """Create a session, generate a request for ``keys``, answer it and wait for the statuses."""
    if keys is None:  # keys the CDM can use (a client-side MediaKeys has no profile)
        keys = new_keys(1, getattr(media_keys, "cdm_profile", None))
    session = await media_keys.create_session(session_type)
    events = session.events()
    pairs = helper.init_data(list(keys))
    if init_data_type is not None:
        pairs = [p for p in pairs if p[0] == init_data_type]
    chosen_type, init_data = pairs[0]
    await session.generate_request(chosen_type, init_data)
    request = await next_event(events, LicenseRequest)
    assert isinstance(request, LicenseRequest)
    await session.update(helper.build_license(request.message, keys, session_type))
    statuses = await next_event(events, KeyStatusesChanged)
    assert isinstance(statuses, KeyStatusesChanged)
    return LicensedSession(session, events, keys, request, statuses, chosen_type)
