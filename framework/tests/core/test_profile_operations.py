"""A session operation the CDM's profile marks as not implemented is refused as NOT_SUPPORTED.

Thunder's OCDM-Clearkey stubs ``Remove()`` (``CDMi_S_FALSE``): calling it only produces a FAIL
from inside the CDM. Here the reference CDM runs under a profile that says the same, so the test
needs no platform library.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from drmkit.config import CoreConfig
from drmkit.core import MediaKeysFactory, NotSupportedError, SessionState
from drmkit.core.wiring import hal_config
from drmkit.keysystems.manager import DrmPluginManager
from drmkit.sdk.model import LicenseHelper
from drmkit.testing.flows import license_session
from drmkit_hal import Hal

PROFILE = """
name = "no-remove"
reference = true

[defaults]
decrypt_variant = "v2"
decrypt_v2_sample_info = true

[[cdm]]
name = "clearkey-without-remove"
key_systems = ["org.w3.clearkey"]
unsupported_operations = ["remove"]
"""


async def test_remove_is_not_supported_where_the_profile_says_so(
    tmp_path: Path,
    drmkit_settings: CoreConfig,
    drmkit_plugin_manager: DrmPluginManager,
    license_helper: LicenseHelper,
) -> None:
    profile = tmp_path / "no-remove.toml"
    profile.write_text(PROFILE)
    config = hal_config(drmkit_settings)
    if config.library_path is not None:
        pytest.skip("forces a profile onto the bundled reference CDM")
    with Hal.open(replace(config, profile=profile)) as hal:
        factory = MediaKeysFactory(drmkit_plugin_manager, hal, drmkit_settings.core)
        try:
            media_keys = await factory.create_media_keys("org.w3.clearkey")
            licensed = await license_session(media_keys, license_helper)
            with pytest.raises(NotSupportedError, match="clearkey-without-remove"):
                await licensed.session.remove()
            assert licensed.session.state is not SessionState.REMOVED
            await licensed.session.close()
            await licensed.session.release()
            await media_keys.destroy()
        finally:
            factory.close()
