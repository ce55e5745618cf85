"""The decrypt path on the core API: decrypt references defer close, key-id-less samples."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import pytest
from drmkit.container import build_container
from drmkit.core import MediaKeysFactory, SessionState
from drmkit.media import MediaError, parse
from drmkit.media.decrypt import decrypt_samples, open_clearkey_session, protected_in_file_order
from drmkit.media.testing import check_against_oracle
from drmkit.testing.vectors import ENCRYPTED_VECTORS


@pytest.fixture
async def factory() -> AsyncIterator[MediaKeysFactory]:
    container = build_container()
    try:
        yield container.media_keys_factory()
    finally:
        container.shutdown_resources()


async def test_close_during_decrypt_is_deferred_until_the_last_sample(factory) -> None:  # type: ignore[no-untyped-def]
    vector = next(v for v in ENCRYPTED_VECTORS if v.name == "shaka_dash_clearkey")
    buf, keys = vector.read(), vector.key_map()
    media = parse(buf)
    media_keys, session = await open_clearkey_session(factory, keys)
    try:
        closing: list[asyncio.Task[None]] = []
        refs_at_close: list[int] = []

        def on_progress(_: int) -> None:
            if not closing:  # after the first sample: ask to close while samples remain
                refs_at_close.append(session.decrypt_references)
                closing.append(asyncio.ensure_future(session.close()))

        await decrypt_samples(session, buf, protected_in_file_order(media), keys, on_progress)
        await closing[0]
        assert refs_at_close[0] >= 1
        await asyncio.wait_for(asyncio.shield(session.closed), 5)
        assert session.state is SessionState.CLOSED
        assert session.decrypt_references == 0
        check_against_oracle(buf, media, vector.oracle())
    finally:
        await media_keys.destroy()


def _without_key_ids(data: bytearray) -> bytearray:
    """Zero the default KID of every 'tenc' (samples then carry no key id)."""
    pos = data.find(b"tenc")
    while pos >= 0:
        version = data[pos + 4]
        assert version in (0, 1)
        data[pos + 12 : pos + 28] = bytes(16)  # after version/flags, reserved(2), protection(2)
        pos = data.find(b"tenc", pos + 1)
    return data


async def test_samples_without_key_id_use_the_selected_key(factory) -> None:  # type: ignore[no-untyped-def]
    vector = next(v for v in ENCRYPTED_VECTORS if v.name == "generated_ffmpeg_cenc_flat")
    buf, keys = _without_key_ids(vector.read()), vector.key_map()
    media = parse(buf)
    assert all(not any(s.key_id) for t in media.tracks.values() for s in t.samples)
    media_keys, session = await open_clearkey_session(factory, keys)
    try:
        await decrypt_samples(session, buf, protected_in_file_order(media), keys)
    finally:
        await media_keys.destroy()
    check_against_oracle(buf, media, vector.oracle())


async def test_samples_without_key_id_and_several_keys_is_an_error(factory) -> None:  # type: ignore[no-untyped-def]
    vector = next(v for v in ENCRYPTED_VECTORS if v.name == "generated_ffmpeg_cenc_flat")
    buf = _without_key_ids(vector.read())
    keys = {**vector.key_map(), bytes(range(16)): bytes(16)}
    media = parse(buf)
    media_keys, session = await open_clearkey_session(factory, keys)
    try:
        with pytest.raises(MediaError, match="several keys"):
            await decrypt_samples(session, buf, protected_in_file_order(media), keys)
        assert session.decrypt_references == 0
    finally:
        await media_keys.destroy()


def test_tenc_layout_assumption() -> None:
    # the helper above relies on the tenc KID at payload offset 8 for v0 and v1
    data = next(v for v in ENCRYPTED_VECTORS if v.name == "generated_packager_cbcs_v").read()
    pos = data.find(b"tenc")
    assert struct.unpack_from(">B", data, pos + 4)[0] == 1
    assert data[pos + 12 : pos + 28].hex() == "0123456789abcdef0123456789abcdef"
