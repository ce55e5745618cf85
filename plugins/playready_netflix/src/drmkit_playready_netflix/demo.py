"""``drmkit demo --key-system com.netflix.playready``: the Netflix DPI flow end to end.

The generic demo steps (license server, key, samples, MediaKeys, HTTP fetch, verification,
cleanup) stay; the session steps become the Netflix player's calls on the DPI facade
(:mod:`drmkit_playready_netflix.dpi`): create a DRM session with a DRM header, fetch the challenge
(blocking, bounded), store the license, bind the decrypt context by KID, decrypt samples that
carry no key id. The facade is synchronous: the steps call it from a worker thread while the demo's
event loop serves the core.

The DRM header carries the key's CHECKSUM, so a license server holding the wrong key (``--fault
wrong-key``) is caught when the license is stored, before a sample is decrypted into garbage.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from drmkit.sdk import (
    CipherMode,
    DecryptParams,
    DemoStep,
    KeySessionType,
    KeyStatus,
    LicenseRequest,
)
from drmkit.sdk import DemoCheckError as DemoError

from drmkit_playready_netflix.dpi import DpiDrmSession, LoopRunner, NetflixDpi
from drmkit_playready_netflix.license_helper import NetflixLicenseHelper

STATUS_WAIT_S = 5.0
_SESSION = "netflix_dpi_session"


def _session(ctx: Any) -> DpiDrmSession:
    session = ctx.extra.get(_SESSION)
    if not isinstance(session, DpiDrmSession):
        raise DemoError("no Netflix DRM session (create_drm_session did not run)")
    return session


async def create_drm_session(ctx: Any) -> str:
    """DPI ``createDrmSession(content_id, license_type, drm_header)``."""
    dpi = NetflixDpi(ctx.media_keys, LoopRunner(asyncio.get_running_loop()))
    header = NetflixLicenseHelper().header([ctx.kid], {ctx.kid: ctx.key})
    session = await asyncio.to_thread(
        dpi.create_drm_session, "drmkit-demo", KeySessionType.TEMPORARY, header
    )
    ctx.extra[_SESSION] = session
    ctx.session = session.key_session  # the generic cleanup and MP4 steps use it
    ctx.init_data_type = "drmheader"
    return f"DRM session {session.session_id}, {len(header)}-byte PlayReady header"


async def get_challenge_data(ctx: Any) -> str:
    """DPI ``getChallengeData(isLDL=false)``: blocks until the license request arrives."""
    session = _session(ctx)
    started = time.monotonic()
    challenge = await asyncio.to_thread(session.get_challenge_data, False)
    waited = time.monotonic() - started
    ctx.license_request = LicenseRequest(session.session_id, challenge, "")
    asked = NetflixLicenseHelper().key_ids_of_request(challenge)
    if ctx.kid not in asked:
        raise DemoError(f"the challenge names {[k.hex() for k in asked]}, not our key id")
    return f"{len(challenge)}-byte challenge after {waited * 1000:.0f} ms"


async def store_license_data(ctx: Any) -> str:
    """DPI ``storeLicenseData``; then wait for the key to be reported usable."""
    session = _session(ctx)
    await asyncio.to_thread(session.store_license_data, ctx.license)
    deadline = time.monotonic() + STATUS_WAIT_S
    while session.key_statuses.get(ctx.kid) is not KeyStatus.USABLE:
        if time.monotonic() > deadline:
            status = session.key_statuses.get(ctx.kid)
            raise DemoError(f"key {ctx.kid.hex()} is {status.name if status else 'missing'}")
        await asyncio.sleep(0.01)
    ctx.key_statuses = session.key_statuses
    if not await asyncio.to_thread(session.has_license, ctx.kid):
        raise DemoError("hasLicense is false after storeLicenseData")
    return "stored; hasLicense true, key usable"


async def init_decrypt_context(ctx: Any) -> str:
    """DPI ``initDecryptContextByKid``."""
    await asyncio.to_thread(_session(ctx).init_decrypt_context_by_kid, ctx.kid)
    return f"kid {ctx.kid.hex()}"


async def decrypt_samples(ctx: Any) -> str:
    """Decrypt every sample with the selected key (the samples carry no key id)."""
    session = _session(ctx)
    if str(ctx.fault) == "cdm-decrypt-error":
        ctx.container.hal().test_control(
            {"op": "inject", "key_system": "*", "operation": "decrypt", "count": -1, "fail_code": 1}
        )
    ctx.decrypted = []
    for sample in ctx.samples:
        buffer = bytearray(sample.encrypted)
        params = DecryptParams(CipherMode.CENC, b"", sample.iv, sample.subsamples)
        await asyncio.to_thread(session.decrypt, buffer, params)
        ctx.decrypted.append(bytes(buffer))
    return f"{len(ctx.decrypted)} samples"


async def close_drm_session(ctx: Any) -> str:
    """Close the DRM session (``cancel_challenge_data`` + ``clean_decrypt_context``, release)."""
    session = ctx.extra.pop(_SESSION, None)
    if not isinstance(session, DpiDrmSession):
        return "no DRM session"
    ctx.session = None
    await asyncio.to_thread(session.close)
    return "closed and released"


_REPLACED = {
    "create key session": ("create DRM session (Netflix DPI)", create_drm_session),
    "generate license request": ("getChallengeData (blocking)", get_challenge_data),
    "update session with license": ("storeLicenseData", store_license_data),
    "decrypt samples through the CDM": (
        "initDecryptContextByKid + decrypt",
        None,
    ),
    "close and release session": ("close DRM session", close_drm_session),
}


async def _select_and_decrypt(ctx: Any) -> str:
    await init_decrypt_context(ctx)
    return await decrypt_samples(ctx)


def netflix_demo_steps(steps: Sequence[DemoStep[Any]]) -> list[DemoStep[Any]]:
    """Return the demo's steps with the session steps replaced by the DPI flow."""
    out: list[DemoStep[Any]] = []
    for step in steps:
        replacement = _REPLACED.get(step.name)
        if replacement is None:
            out.append(step)
            continue
        name, run = replacement
        out.append(DemoStep(name, run or _select_and_decrypt, cleanup=step.cleanup))
    return out
