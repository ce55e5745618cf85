"""One process opens and closes the HAL, and whole cores, many times over Thunder's OCDM.

``opencdm_dispose`` is terminal in Thunder's client (the next ``opencdm_create_system`` crashed):
the HAL disposes only at exit. These run in a child process so that a crash is a test failure, not
the end of the test run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

REOPEN = textwrap.dedent(
    """
    import asyncio, os
    from drmkit_hal import Hal, LicenseType
    from drmkit.core import CipherMode, DecryptParams, KeySessionType
    from drmkit.core.wiring import hal_config, open_core
    from drmkit.settings import Settings
    from drmkit.testing.cenc import encrypt_sample
    from drmkit_clearkey import formats

    settings = Settings(plugins={"enabled": ["clearkey"]})
    config = hal_config(settings)

    class Quiet:
        def on_challenge(self, url, challenge): pass
        def on_key_update(self, key_id): pass
        def on_error(self, message): pass
        def on_keys_updated(self): pass

    for _ in range(30):  # the HAL alone
        with Hal.open(config) as hal:
            kid, key = os.urandom(16), bytes(b or 1 for b in os.urandom(16))
            session = hal.create_system("org.w3.clearkey").construct_session(
                LicenseType.TEMPORARY, "cenc", formats.make_common_pssh([kid]), b"", Quiet())
            session.update(formats.make_license({kid: key}))
            clear, iv = os.urandom(256), os.urandom(8)
            buffer = bytearray(encrypt_sample(clear, key, iv, CipherMode.CENC))
            session.decrypt(buffer, scheme=1, iv=iv, key_id=kid)
            assert bytes(buffer) == clear

    async def flow():
        with open_core(settings) as factory:
            media_keys = await factory.create_media_keys("org.w3.clearkey")
            kid, key = os.urandom(16), media_keys.cdm_profile.random_key()
            session = await media_keys.create_session(KeySessionType.TEMPORARY)
            await session.generate_request("keyids", formats.make_keyids([kid]))
            await session.update(formats.make_license({kid: key}))
            clear, iv = os.urandom(300), os.urandom(8)
            buffer = bytearray(encrypt_sample(clear, key, iv, CipherMode.CENC))
            await session.decrypt(buffer, DecryptParams(CipherMode.CENC, kid, iv))
            assert bytes(buffer) == clear
            await media_keys.destroy()

    for _ in range(10):  # whole cores: HAL, plugins, workers
        asyncio.run(flow())
    print("reopened", flush=True)
    """
)


def test_the_same_process_reopens_the_client_many_times(stack_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", REOPEN],
        env=stack_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "reopened" in result.stdout
