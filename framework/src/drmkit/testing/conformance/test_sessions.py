"""Conformance: key session lifecycle, events, states and unknown ids (rialto-mks §6, EME §8).

Scenario names follow Rialto's component tests and the RC-CORE-KEYS catalogue.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable

import pytest
from drmkit.core import (
    BadSessionIdError,
    InterfaceNotImplementedError,
    InvalidInitDataError,
    InvalidLicenseError,
    InvalidStateError,
    KeySessionApi,
    KeySessionType,
    KeyStatus,
    KeyStatusesChanged,
    LicenseRenewal,
    LicenseRequest,
    MediaKeysApi,
    NotSupportedError,
    SessionState,
)
from drmkit.core.api import MediaKeysFactoryApi
from drmkit.errors import FailError
from drmkit.events import KeySessionEvent
from drmkit.sdk.model import LicenseHelper
from drmkit.testing.flows import license_session, next_event
from drmkit.testing.refcdm import RefCdmControl

# Marked for pytest-asyncio explicitly: a vendor's repository need not set asyncio_mode.
pytestmark = [pytest.mark.drmkit_conformance, pytest.mark.asyncio]


def state_of(session: KeySessionApi) -> SessionState:
    """Read the state afresh (keeps type checkers from narrowing across awaits)."""
    return session.state


class RecordingListener:
    """A listener object that records what it receives."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, object]] = []
        self.arrived = asyncio.Event()

    def on_license_request(self, session_id: int, message: bytes, url: str) -> None:
        self.events.append(("request", session_id, message))
        self.arrived.set()

    def on_license_renewal(self, session_id: int, message: bytes) -> None:
        self.events.append(("renewal", session_id, message))
        self.arrived.set()

    def on_key_statuses_changed(
        self, session_id: int, key_statuses: tuple[tuple[bytes, KeyStatus], ...]
    ) -> None:
        self.events.append(("statuses", session_id, key_statuses))
        self.arrived.set()


# -- RC-CORE-KEYS-001: create -------------------------------------------------------------------


async def test_create_key_session_writes_valid_id(media_keys: MediaKeysApi) -> None:
    sessions = [await media_keys.create_session() for _ in range(10)]
    ids = [s.id for s in sessions]
    assert all(isinstance(i, int) and i >= 0 for i in ids)
    assert len(set(ids)) == 10  # EME B8: ids are distinct
    assert all(s.state is SessionState.CREATED for s in sessions)
    assert all(s.key_statuses == {} for s in sessions)  # EME A3


async def test_session_ids_never_reused(media_keys: MediaKeysApi) -> None:
    first = await media_keys.create_session()
    await first.release()
    second = await media_keys.create_session()
    assert second.id != first.id
    with pytest.raises(BadSessionIdError):
        media_keys.get_session(first.id)


async def test_unsupported_session_type_not_supported(media_keys: MediaKeysApi) -> None:
    unsupported = [t for t in KeySessionType if t not in media_keys.capabilities.session_types]
    for session_type in unsupported:
        if session_type is KeySessionType.UNKNOWN:
            continue  # UNKNOWN means temporary
        with pytest.raises(NotSupportedError):
            await media_keys.create_session(session_type)
    with pytest.raises(NotSupportedError):
        await media_keys.create_session(99)  # type: ignore[arg-type]


# -- KEYS-002 / KEYS-003: request and key statuses ----------------------------------------------


async def test_generate_request_delivers_license_request(
    media_keys: MediaKeysApi,
    license_helper: LicenseHelper,
    drmkit_new_keys: Callable[..., dict[bytes, bytes]],
) -> None:
    keys = drmkit_new_keys()
    for init_data_type, init_data in license_helper.init_data(list(keys)):
        session = await media_keys.create_session()
        events = session.events()
        await session.generate_request(init_data_type, init_data)
        event = await next_event(events)
        assert isinstance(event, LicenseRequest), init_data_type
        assert event.session_id == session.id
        assert isinstance(event.url, str)
        assert set(license_helper.key_ids_of_request(event.message)) >= set(keys)
        assert session.state is SessionState.ACTIVE
        await session.release()


async def test_update_surfaces_usable_key_status(
    media_keys: MediaKeysApi,
    license_helper: LicenseHelper,
    drmkit_new_keys: Callable[..., dict[bytes, bytes]],
) -> None:
    licensed = await license_session(media_keys, license_helper, drmkit_new_keys(2))
    statuses = dict(licensed.statuses.key_statuses)
    assert statuses == {kid: KeyStatus.USABLE for kid in licensed.keys}
    assert licensed.session.key_statuses == statuses
    for kid in licensed.keys:
        assert await licensed.session.contains_key(kid)


async def test_several_updates_accumulate_keys(
    media_keys: MediaKeysApi,
    license_helper: LicenseHelper,
    drmkit_new_keys: Callable[..., dict[bytes, bytes]],
) -> None:
    keys = drmkit_new_keys(2)
    first, second = list(keys.items())
    licensed = await license_session(media_keys, license_helper, dict([first]))
    session = licensed.session
    await session.update(license_helper.build_license(b"", dict([second])))
    await next_event(licensed.events, KeyStatusesChanged)
    assert await session.contains_key(first[0]) and await session.contains_key(second[0])


async def test_listener_object_receives_events(
    media_keys: MediaKeysApi,
    license_helper: LicenseHelper,
    drmkit_new_keys: Callable[..., dict[bytes, bytes]],
) -> None:
    listener = RecordingListener()
    keys = drmkit_new_keys()
    session = await media_keys.create_session(listener=listener)
    init_data_type, init_data = license_helper.init_data(list(keys))[0]
    await session.generate_request(init_data_type, init_data)
    await asyncio.wait_for(listener.arrived.wait(), 5)
    kind, session_id, message = listener.events[0]
    assert (kind, session_id) == ("request", session.id)
    listener.arrived.clear()
    assert isinstance(message, bytes)
    await session.update(license_helper.build_license(message, keys))
    await asyncio.wait_for(listener.arrived.wait(), 5)
    assert listener.events[-1][0] == "statuses"


async def test_sessions_each_get_only_their_own_events(
    media_keys: MediaKeysApi,
    license_helper: LicenseHelper,
    drmkit_new_keys: Callable[..., dict[bytes, bytes]],
) -> None:
    """Several sessions with different listeners on one MediaKeys (Rialto's hazard; EME C9)."""
    listeners = [RecordingListener() for _ in range(3)]
    keys = [drmkit_new_keys() for _ in listeners]
    sessions = [await media_keys.create_session(listener=lst) for lst in listeners]
    for session, session_keys in zip(sessions, keys, strict=True):
        init_data_type, init_data = license_helper.init_data(list(session_keys))[0]
        await session.generate_request(init_data_type, init_data)
    for listener in listeners:
        await asyncio.wait_for(listener.arrived.wait(), 5)
    for session, listener, session_keys in zip(sessions, listeners, keys, strict=True):
        assert {sid for _, sid, _ in listener.events} == {session.id}
        message = listener.events[0][2]
        assert isinstance(message, bytes)
        listener.arrived.clear()
        await session.update(license_helper.build_license(message, session_keys))
    for session, listener, session_keys in zip(sessions, listeners, keys, strict=True):
        while listener.events[-1][0] != "statuses":
            listener.arrived.clear()
            await asyncio.wait_for(listener.arrived.wait(), 5)
        statuses = listener.events[-1][2]
        assert isinstance(statuses, tuple)
        assert {kid for kid, _ in statuses} == set(session_keys)
        assert {sid for _, sid, _ in listener.events} == {session.id}
        other_keys = [k for ks in keys if ks is not session_keys for k in ks]
        for kid in other_keys:
            assert not await session.contains_key(kid)


async def test_listener_that_raises_does_not_break_the_session(
    media_keys: MediaKeysApi,
    license_helper: LicenseHelper,
    drmkit_new_keys: Callable[..., dict[bytes, bytes]],
) -> None:
    class Exploding(RecordingListener):
        def on_license_request(self, session_id: int, message: bytes, url: str) -> None:
            super().on_license_request(session_id, message, url)
            raise RuntimeError("listener bug")

    listener = Exploding()
    keys = drmkit_new_keys()
    session = await media_keys.create_session(listener=listener)
    events = session.events()
    init_data_type, init_data = license_helper.init_data(list(keys))[0]
    await session.generate_request(init_data_type, init_data)
    request = await next_event(events, LicenseRequest)
    assert isinstance(request, LicenseRequest)
    await session.update(license_helper.build_license(request.message, keys))
    await next_event(events, KeyStatusesChanged)
    assert await session.contains_key(next(iter(keys)))


async def test_detached_listener_gets_nothing_and_session_still_works(
    media_keys: MediaKeysApi,
    license_helper: LicenseHelper,
    drmkit_new_keys: Callable[..., dict[bytes, bytes]],
) -> None:
    """RC-CORE-KEYS-012: no callbacks once the client is gone; the session still works."""
    listener = RecordingListener()
    keys = drmkit_new_keys()
    session = await media_keys.create_session(listener=listener)
    session.set_listener(None)
    events = session.events()
    init_data_type, init_data = license_helper.init_data(list(keys))[0]
    await session.generate_request(init_data_type, init_data)
    request = await next_event(events, LicenseRequest)
    assert isinstance(request, LicenseRequest)
    await session.update(license_helper.build_license(request.message, keys))
    await next_event(events, KeyStatusesChanged)
    assert listener.events == []
    await session.close()
    await session.release()


# -- KEYS-005: teardown ---------------------------------------------------------------------------


async def test_session_teardown_returns_ok(
    media_keys: MediaKeysApi, license_helper: LicenseHelper
) -> None:
    licensed = await license_session(media_keys, license_helper)
    session = licensed.session
    await session.close()
    assert session.state is SessionState.CLOSED
    await asyncio.wait_for(session.closed, 5)
    await asyncio.wait_for(session.closed, 5)  # EME D2: resolves again at once
    await session.release()
    assert state_of(session) is SessionState.RELEASED
    assert session.id not in media_keys.session_ids


async def test_remove_then_release(media_keys: MediaKeysApi, license_helper: LicenseHelper) -> None:
    licensed = await license_session(media_keys, license_helper)
    session = licensed.session
    try:
        await session.remove()
    except (InterfaceNotImplementedError, NotSupportedError):
        pass  # a key system may not offer remove for temporary sessions; it must say so
    else:
        assert session.state is SessionState.REMOVED
        # Events keep flowing after remove: the keys are reported released.
        event = await next_event(licensed.events, KeyStatusesChanged)
        assert isinstance(event, KeyStatusesChanged)
        assert {status for _, status in event.key_statuses} <= {
            KeyStatus.RELEASED,
            KeyStatus.EXPIRED,
        }
        await session.close()
    await session.release()


async def test_release_of_unconstructed_session(media_keys: MediaKeysApi) -> None:
    session = await media_keys.create_session()
    await session.release()
    with pytest.raises(BadSessionIdError):
        await media_keys.release_key_session(session.id)


# -- KEYS-006: unknown ids ------------------------------------------------------------------------


async def test_unknown_session_id_gives_bad_session_id_for_every_call(
    media_keys: MediaKeysApi,
) -> None:
    released = await media_keys.create_session()
    await released.release()
    for unknown in (10**9, -1, released.id):
        calls = [
            media_keys.generate_request(unknown, "keyids", b"{}"),
            media_keys.load_session(unknown),
            media_keys.update_session(unknown, b"{}"),
            media_keys.close_key_session(unknown),
            media_keys.remove_key_session(unknown),
            media_keys.release_key_session(unknown),
            media_keys.contains_key(unknown, b"0123456789abcdef"),
            media_keys.select_key_id(unknown, b"0123456789abcdef"),
            media_keys.set_drm_header(unknown, b"header"),
            media_keys.get_last_drm_error(unknown),
            media_keys.get_cdm_key_session_id(unknown),
        ]
        for call in calls:
            with pytest.raises(BadSessionIdError):
                await call


async def test_calls_on_released_session_object(media_keys: MediaKeysApi) -> None:
    session = await media_keys.create_session()
    await session.release()
    with pytest.raises(BadSessionIdError):
        await session.generate_request("keyids", b'{"kids":["AAAAAAAAAAAAAAAAAAAAAA"]}')
    with pytest.raises(BadSessionIdError):
        await session.close()
    with pytest.raises(BadSessionIdError):
        await session.release()


# -- KEYS-007: wrong state ------------------------------------------------------------------------


async def test_invalid_state_before_generate_request(media_keys: MediaKeysApi) -> None:
    session = await media_keys.create_session()
    with pytest.raises(InvalidStateError):
        await session.update(b'{"keys":[]}')  # EME C1
    with pytest.raises(InvalidStateError):
        await session.close()  # EME D1
    with pytest.raises(InvalidStateError):
        await session.remove()  # EME D4
    with pytest.raises(InvalidStateError):
        await session.get_cdm_key_session_id()
    assert not await session.contains_key(b"0123456789abcdef")
    await session.release()


async def test_invalid_state_generate_request_twice(
    media_keys: MediaKeysApi, license_helper: LicenseHelper
) -> None:
    if media_keys.capabilities.repeatable_generate_request:
        pytest.skip("the key system allows repeated generate requests")
    licensed = await license_session(media_keys, license_helper)
    init_data_type, init_data = license_helper.init_data(list(licensed.keys))[0]
    with pytest.raises(InvalidStateError):  # EME B7
        await licensed.session.generate_request(init_data_type, init_data)


async def test_invalid_state_after_close(
    media_keys: MediaKeysApi, license_helper: LicenseHelper
) -> None:
    licensed = await license_session(media_keys, license_helper)
    session = licensed.session
    await session.close()
    init_data_type, init_data = license_helper.init_data(list(licensed.keys))[0]
    license_ = license_helper.build_license(b"", licensed.keys)
    for call in (
        session.generate_request(init_data_type, init_data),
        session.update(license_),
        session.remove(),
        session.close(),
    ):
        with pytest.raises(InvalidStateError):  # EME D3
            await call
    assert not await session.contains_key(next(iter(licensed.keys)))  # E5: keys unusable
    await session.release()


# -- KEYS-008: not supported ----------------------------------------------------------------------


async def test_undeclared_init_data_type_not_supported(
    media_keys: MediaKeysApi, license_helper: LicenseHelper
) -> None:
    declared = media_keys.capabilities.init_data_types
    session = await media_keys.create_session()
    for init_data_type in ("cenc", "keyids", "webm", "drmheader", "bogus", ""):
        if init_data_type in declared:
            continue
        with pytest.raises(NotSupportedError):
            await session.generate_request(init_data_type, b"\x00" * 16)
    assert session.state is SessionState.CREATED


async def test_create_media_keys_fails_for_unsupported_key_system(
    media_keys_factory: MediaKeysFactoryApi,
) -> None:
    for key_system in ("com.example.unknown", "", "org.w3.clearkey.extra"):
        with pytest.raises(NotSupportedError):
            await media_keys_factory.create_media_keys(key_system)
    with pytest.raises(NotSupportedError):
        await media_keys_factory.create_media_keys(None)  # type: ignore[arg-type]


# -- generic bad input (EME B2, B3, C2, C4) -------------------------------------------------------


async def test_bad_init_data_is_rejected_and_session_stays_usable(
    media_keys: MediaKeysApi,
    license_helper: LicenseHelper,
    drmkit_new_keys: Callable[..., dict[bytes, bytes]],
) -> None:
    keys = drmkit_new_keys()
    init_data_type, good = license_helper.init_data(list(keys))[0]
    session = await media_keys.create_session()
    events = session.events()
    for bad in (b"", None, "text", 42, bytes(70000)):
        with pytest.raises(InvalidInitDataError):
            await session.generate_request(init_data_type, bad)  # type: ignore[arg-type]
    assert session.state is SessionState.CREATED
    await session.generate_request(init_data_type, good)
    assert isinstance(await next_event(events), LicenseRequest)


async def test_bad_license_is_rejected_and_session_stays_usable(
    media_keys: MediaKeysApi,
    license_helper: LicenseHelper,
    drmkit_new_keys: Callable[..., dict[bytes, bytes]],
) -> None:
    keys = drmkit_new_keys()
    session = await media_keys.create_session()
    events = session.events()
    init_data_type, init_data = license_helper.init_data(list(keys))[0]
    await session.generate_request(init_data_type, init_data)
    request = await next_event(events, LicenseRequest)
    assert isinstance(request, LicenseRequest)
    good = license_helper.build_license(request.message, keys)
    for bad in (b"", None, 7, good + b" " * 70000):
        with pytest.raises(InvalidLicenseError):
            await session.update(bad)  # type: ignore[arg-type]
    with pytest.raises(FailError):  # EME C3: garbage is refused (InvalidLicenseError if parsed)
        await session.update(bytes.fromhex("0011223344556677"))
    await session.update(good)
    await next_event(events, KeyStatusesChanged)
    assert await session.contains_key(next(iter(keys)))


# -- KEYS-009: contains key ------------------------------------------------------------------------


async def test_contains_key_exact_match_only(
    media_keys: MediaKeysApi, license_helper: LicenseHelper
) -> None:
    licensed = await license_session(media_keys, license_helper)
    kid = next(iter(licensed.keys))
    session = licensed.session
    assert await session.contains_key(kid)
    near_misses = [
        kid[1:],
        kid[:-1],
        bytes([kid[0] ^ 1]) + kid[1:],
        kid[:-1] + bytes([kid[-1] ^ 1]),
        b"\x00" + kid,
        kid + b"\x00",
        os.urandom(16),
    ]
    for other in near_misses:  # EME C7
        assert not await session.contains_key(other)


# -- KEYS-010: renewal -----------------------------------------------------------------------------


async def test_renewal_then_update(
    media_keys: MediaKeysApi, license_helper: LicenseHelper, refcdm: RefCdmControl
) -> None:
    licensed = await license_session(media_keys, license_helper)
    session = licensed.session
    refcdm.renewal(await session.get_cdm_key_session_id())
    renewal = await next_event(licensed.events)
    assert isinstance(renewal, LicenseRenewal)  # unsolicited: a renewal, not a request
    assert renewal.session_id == session.id
    await session.update(license_helper.build_license(renewal.message, licensed.keys))
    statuses = await next_event(licensed.events, KeyStatusesChanged)
    assert isinstance(statuses, KeyStatusesChanged)


# -- KEYS-004 / KEYS-013: DRM header and key selection --------------------------------------------


async def test_set_drm_header_and_select_key_id_are_legal(
    media_keys: MediaKeysApi, license_helper: LicenseHelper
) -> None:
    """KEYS-004 / KEYS-013: each works, or the key system says it does not offer it."""
    licensed = await license_session(media_keys, license_helper)
    kid = next(iter(licensed.keys))
    with contextlib.suppress(InterfaceNotImplementedError, NotSupportedError):
        await licensed.session.select_key_id(kid)
    headers = [data for kind, data in license_helper.init_data([kid]) if kind == "drmheader"]
    for header in headers:
        with contextlib.suppress(InterfaceNotImplementedError, NotSupportedError):
            await licensed.session.set_drm_header(header)
    # A header that is no header of any key system: refused as bad init data, or not offered.
    with contextlib.suppress(InterfaceNotImplementedError, NotSupportedError, InvalidInitDataError):
        await licensed.session.set_drm_header(b"<h/>")


# -- session info ---------------------------------------------------------------------------------


async def test_session_info_getters(
    media_keys: MediaKeysApi, license_helper: LicenseHelper
) -> None:
    licensed = await license_session(media_keys, license_helper)
    cdm_id = await licensed.session.get_cdm_key_session_id()
    assert isinstance(cdm_id, str) and cdm_id
    assert isinstance(await licensed.session.get_last_drm_error(), int)


# -- events after generate: request vs renewal -----------------------------------------------------


async def test_events_iterator_ends_on_release(
    media_keys: MediaKeysApi, license_helper: LicenseHelper
) -> None:
    licensed = await license_session(media_keys, license_helper)
    await licensed.session.release()
    remaining: list[KeySessionEvent] = [event async for event in licensed.events]
    assert all(not isinstance(e, LicenseRequest) for e in remaining)


async def test_async_listener_methods_are_awaited(
    media_keys: MediaKeysApi,
    license_helper: LicenseHelper,
    drmkit_new_keys: Callable[..., dict[bytes, bytes]],
) -> None:
    class AsyncListener(RecordingListener):
        async def on_license_request(  # type: ignore[override]
            self, session_id: int, message: bytes, url: str
        ) -> None:
            await asyncio.sleep(0)
            super().on_license_request(session_id, message, url)

    listener = AsyncListener()
    session = await media_keys.create_session(listener=listener)
    init_data_type, init_data = license_helper.init_data(list(drmkit_new_keys()))[0]
    await session.generate_request(init_data_type, init_data)
    await asyncio.wait_for(listener.arrived.wait(), 5)
    assert listener.events[0][:2] == ("request", session.id)
