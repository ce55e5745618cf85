"""The demo's real-MP4 step: PyAV encode, FFmpeg cenc encryption, decryption through the core."""

from __future__ import annotations

import os

import pytest
from drmkit.container import build_container
from drmkit.media import MediaError
from drmkit.media.decrypt import open_clearkey_session
from drmkit.media.demo import decrypt_real_mp4


async def test_real_mp4_step_decrypts_and_verifies() -> None:
    kid, key = os.urandom(16), os.urandom(16)
    container = build_container()
    try:
        media_keys, session = await open_clearkey_session(
            container.media_keys_factory(), {kid: key}
        )
        try:
            detail = await decrypt_real_mp4(session, kid, key, seconds=1.0)
        finally:
            await media_keys.destroy()
    finally:
        container.shutdown_resources()
    assert "identical to the clear encode" in detail
    assert "PyAV decoded 25 frames" in detail


async def test_real_mp4_step_fails_with_the_wrong_key_in_the_session() -> None:
    kid, key = os.urandom(16), os.urandom(16)
    container = build_container()
    try:
        media_keys, session = await open_clearkey_session(
            container.media_keys_factory(), {kid: os.urandom(16)}
        )
        try:
            with pytest.raises(MediaError, match="differs from the clear encode"):
                await decrypt_real_mp4(session, kid, key, seconds=0.4)
        finally:
            await media_keys.destroy()
    finally:
        container.shutdown_resources()
