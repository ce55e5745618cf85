"""Through real key sessions: an argument the HAL refuses is bad input, a plugin's bug is FAIL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from drmkit.config import CoreConfig, PluginSettings
from drmkit.core import CipherMode, DecryptParams, MediaKeys, Subsample
from drmkit.core.factory import MediaKeysFactory
from drmkit.errors import FailError, InvalidInputError
from drmkit.keysystems.manager import DrmPluginManager
from drmkit.sdk import LicenseHelper, SessionContext
from drmkit.testing.flows import license_session
from drmkit_clearkey.plugin import ClearKeyPlugin
from drmkit_hal import Hal


async def test_an_argument_the_hal_refuses_keeps_its_input_status(
    media_keys: MediaKeys, license_helper: LicenseHelper
) -> None:
    licensed = await license_session(media_keys, license_helper)
    kid = next(iter(licensed.keys))
    with pytest.raises(InvalidInputError) as short_iv:
        await licensed.session.decrypt(bytearray(32), DecryptParams(CipherMode.CENC, kid, bytes(3)))
    assert "clearkey.drm_decrypt: IV must be 0, 8 or 16 bytes long, not 3" in str(short_iv.value)
    uncovered = DecryptParams(CipherMode.CENC, kid, bytes(8), (Subsample(1, 1),))
    with pytest.raises(InvalidInputError, match="subsamples cover 2 bytes"):
        await licensed.session.decrypt(bytearray(32), uncovered)
    assert await licensed.session.contains_key(kid)  # the session is unaffected


class BuggyClearKey(ClearKeyPlugin):
    """Clear Key whose key lookup has a bug of its own (a ValueError from its code)."""

    def drm_contains_key(self, session: SessionContext, key_id: bytes) -> bool:
        return int("0x" + key_id.hex()) > 0  # the bug: "0x..." needs base=16


@pytest.fixture
async def buggy_media_keys(
    drmkit_settings: CoreConfig, drmkit_hal: Hal
) -> AsyncIterator[MediaKeys]:
    manager = DrmPluginManager(PluginSettings(enabled=[]))
    manager.add_key_system_plugin(BuggyClearKey(), "buggy")
    factory = MediaKeysFactory(manager, drmkit_hal, drmkit_settings.core)
    try:
        yield await factory.create_media_keys("org.w3.clearkey")
    finally:
        await factory.destroy_all()
        factory.close()


async def test_a_value_error_of_the_plugins_own_code_is_fail_naming_it(
    buggy_media_keys: MediaKeys, license_helper: LicenseHelper
) -> None:
    licensed = await license_session(buggy_media_keys, license_helper)
    kid = next(iter(licensed.keys))
    with pytest.raises(FailError) as caught:
        await licensed.session.contains_key(kid)
    assert type(caught.value) is FailError  # not InvalidInputError: the caller did nothing wrong
    assert str(caught.value).startswith("buggy.drm_contains_key raised ValueError: invalid literal")
    await licensed.session.close()  # the session stays usable
