"""The steps of ``drmkit demo``: the main job end to end on one machine.

License server up (in-process, free loopback port, its own key store) → a random key stored →
samples encrypted with an independent AES → MediaKeys and a key session through the core API →
license request → license fetched over HTTP → update → key statuses → decrypt → byte-for-byte
check → close, release, shut down.
"""

from __future__ import annotations

import asyncio
import enum
import os
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from drmkit.container import Container, build_container
from drmkit.core import (
    CipherMode,
    DecryptParams,
    KeySession,
    KeySessionType,
    KeyStatus,
    KeyStatusesChanged,
    LicenseRequest,
    MediaKeys,
    MediaKeysFactory,
)
from drmkit.core.listeners import EventStream
from drmkit.demo.runner import Step
from drmkit.demo.samples import CencSample, make_samples
from drmkit.errors import ConfigurationError, DrmError, DrmkitError
from drmkit.license_server import KeyStore, LicenseServerThread
from drmkit.license_server.app import LicenseEndpoint, license_endpoints
from drmkit.license_server.keyids import b64url_encode
from drmkit.sdk import DemoCheckError
from drmkit.settings import Settings

DEFAULT_KEY_SYSTEM = "org.w3.clearkey"
EVENT_TIMEOUT_S = 10.0
HTTP_TIMEOUT_S = 10.0


class DemoFault(enum.StrEnum):
    """Faults the demo can inject to show (and test) that it notices failures."""

    NONE = "none"
    WRONG_KEY = "wrong-key"  # the license server holds a key the samples were not encrypted with
    UNKNOWN_KID = "unknown-kid"  # the license server holds no key for the content's key id
    CDM_DECRYPT_ERROR = "cdm-decrypt-error"  # the reference CDM fails every decrypt call


DemoError = DemoCheckError
"""A demo check failed (wrong bytes, missing event, bad status, ...); plugins raise it too."""


class DemoSetupError(DrmkitError):
    """The demo cannot run as asked (e.g. the key system is not enabled)."""


@dataclass
class DemoContext:
    """Everything the steps share; cleanup steps look at what exists."""

    settings: Settings
    key_system: str = DEFAULT_KEY_SYSTEM
    fault: DemoFault = DemoFault.NONE
    sample_count: int = 8
    users_key_store: bool = False  # a configured store: remove the demo's key afterwards
    # set by the steps
    container: Container | None = None
    resources: ExitStack = field(default_factory=ExitStack)
    store: KeyStore | None = None
    server: LicenseServerThread | None = None
    license_endpoint: LicenseEndpoint | None = None
    http: httpx.AsyncClient | None = None
    kid: bytes = b""
    key: bytes = b""
    samples: list[CencSample] = field(default_factory=list)
    decrypted: list[bytes] = field(default_factory=list)
    factory: MediaKeysFactory | None = None
    media_keys: MediaKeys | None = None
    session: KeySession | None = None
    events: EventStream | None = None
    init_data_type: str = ""
    license_request: LicenseRequest | None = None
    license: bytes = b""
    key_statuses: dict[bytes, KeyStatus] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # state of a plugin's own demo steps

    @property
    def license_url(self) -> str:
        """URL of the running license server's license endpoint for the key system."""
        assert self.server is not None and self.license_endpoint is not None
        return self.server.url + self.license_endpoint.path


def prepare(
    settings: Settings,
    key_system: str = DEFAULT_KEY_SYSTEM,
    fault: DemoFault = DemoFault.NONE,
) -> DemoContext:
    """Check the request and return the context (``DemoSetupError`` for a clear refusal).

    Unless configured, the demo keeps all its state (key store, CDM store) in a temporary
    directory removed at the end, so it runs on a fresh machine and leaves nothing behind.
    """
    context = DemoContext(settings=settings, key_system=key_system, fault=fault)
    context.users_key_store = (
        "state_dir" in settings.model_fields_set or settings.license_server.db_path is not None
    )
    if "state_dir" not in settings.model_fields_set:
        temp = context.resources.enter_context(tempfile.TemporaryDirectory(prefix="drmkit-demo-"))
        context.settings = settings = settings.model_copy(update={"state_dir": Path(temp)})
    context.container = build_container(settings)
    enabled = _enabled_key_systems(context.container)
    if key_system not in enabled:
        raise DemoSetupError(
            f"key system {key_system!r} is not enabled; enabled: {', '.join(enabled) or 'none'}"
            " (see [plugins] in docs/configuration.md)"
        )
    try:
        # The routes the license server will have: Clear Key's and the installed plugins'.
        routes = license_endpoints(context.container.license_test_endpoints())
    except ConfigurationError as exc:
        raise DemoSetupError(f"the license server cannot start: {exc}") from exc
    endpoint = next(
        (e for e in routes if e.key_system == key_system and e.operation == "license"), None
    )
    if endpoint is None:
        raise DemoSetupError(f"the license server issues no licenses for {key_system!r} yet")
    context.license_endpoint = endpoint
    return context


def _enabled_key_systems(container: Container) -> list[str]:
    try:
        return container.plugin_manager().key_systems()
    except ConfigurationError as exc:  # e.g. plugins.enabled names what is not installed
        raise DemoSetupError(str(exc)) from exc


# -- steps --------------------------------------------------------------------------------------


async def start_license_server(ctx: DemoContext) -> str:
    """Open the key store and serve the license server on a free loopback port."""
    assert ctx.container is not None and ctx.license_endpoint is not None
    ctx.store = ctx.container.license_key_store()
    app = ctx.container.license_server_app()  # over that store, with the plugins' test routes
    ctx.server = LicenseServerThread(app, "127.0.0.1", 0)
    await asyncio.to_thread(ctx.server.start)
    headers = {}
    token = ctx.settings.license_server.token
    if token is not None:
        headers["Authorization"] = f"Bearer {token.get_secret_value()}"
    ctx.http = httpx.AsyncClient(base_url=ctx.server.url, headers=headers, timeout=HTTP_TIMEOUT_S)
    return f"{ctx.license_url} (key store {ctx.store.path})"


async def store_content_key(ctx: DemoContext) -> str:
    """Make a random key id and key and store them (or the injected wrong ones).

    The key is one the loaded CDM can use (its profile may rule out some bytes).
    """
    assert ctx.store is not None and ctx.container is not None
    profile = ctx.container.hal().cdm_profile(ctx.key_system)
    ctx.kid, ctx.key = os.urandom(16), profile.random_key()
    if ctx.fault is DemoFault.UNKNOWN_KID:
        return f"kid {ctx.kid.hex()} (fault: not stored)"
    stored = os.urandom(16) if ctx.fault is DemoFault.WRONG_KEY else ctx.key
    await asyncio.to_thread(ctx.store.add, ctx.kid, stored, label="drmkit demo")
    return f"kid {ctx.kid.hex()}" + (" (fault: wrong key stored)" if stored != ctx.key else "")


async def encrypt_samples(ctx: DemoContext) -> str:
    """Encrypt samples with pyca/cryptography (AES-128-CTR, cenc, subsamples)."""
    ctx.samples = make_samples(ctx.key, ctx.sample_count)
    total = sum(len(s.clear) for s in ctx.samples)
    with_maps = sum(1 for s in ctx.samples if s.subsamples)
    return f"{len(ctx.samples)} samples, {total} bytes, {with_maps} with subsample maps"


async def create_media_keys(ctx: DemoContext) -> str:
    """Create MediaKeys for the key system through the core (container → factory)."""
    assert ctx.container is not None
    ctx.factory = ctx.container.media_keys_factory()
    ctx.media_keys = await ctx.factory.create_media_keys(ctx.key_system)
    hal = ctx.container.hal()
    profile = ctx.media_keys.cdm_profile
    ctx.extra["cdm"] = {"library": hal.library_path, "profile": profile.name}
    version = await ctx.media_keys.get_version() or "(no version)"
    return f"{ctx.key_system}, CDM {version} ({profile.name})"


async def create_session(ctx: DemoContext) -> str:
    """Create a temporary key session and subscribe to its events."""
    assert ctx.media_keys is not None
    ctx.session = await ctx.media_keys.create_session(KeySessionType.TEMPORARY)
    ctx.events = ctx.session.events()
    return f"session {ctx.session.id}"


async def generate_request(ctx: DemoContext) -> str:
    """Generate a license request from init data naming the key id; wait for the event."""
    assert ctx.container is not None and ctx.session is not None and ctx.events is not None
    helper = ctx.container.plugin_manager().license_helper(ctx.key_system)
    if helper is None:
        raise DemoError(f"the {ctx.key_system} plugin provides no init data helper")
    choices = dict(helper.init_data([ctx.kid]))
    ctx.init_data_type = next(iter(choices))  # the key system's own first choice
    await ctx.session.generate_request(ctx.init_data_type, choices[ctx.init_data_type])
    event = await ctx.events.next(timeout=EVENT_TIMEOUT_S)
    if not isinstance(event, LicenseRequest):
        raise DemoError(f"expected a license request, got {type(event).__name__}")
    ctx.license_request = event
    asked = helper.key_ids_of_request(event.message)
    if ctx.kid not in asked:
        raise DemoError(f"the license request names {[k.hex() for k in asked]}, not our key id")
    url = f", CDM suggests {event.url!r}" if event.url else ""
    return f"{ctx.init_data_type} init data → {len(event.message)}-byte request{url}"


async def fetch_license(ctx: DemoContext) -> str:
    """POST the request to the license server over HTTP."""
    assert ctx.http is not None and ctx.license_request is not None
    assert ctx.license_endpoint is not None
    response = await ctx.http.post(ctx.license_endpoint.path, content=ctx.license_request.message)
    if response.status_code != 200:
        raise DemoError(f"license server answered {response.status_code}: {response.text[:300]}")
    ctx.license = response.content
    return f"HTTP 200, {len(ctx.license)}-byte license"


async def update_session(ctx: DemoContext) -> str:
    """Give the license to the session; wait for the key statuses."""
    assert ctx.session is not None and ctx.events is not None
    await ctx.session.update(ctx.license)
    event = await ctx.events.next(timeout=EVENT_TIMEOUT_S)
    if not isinstance(event, KeyStatusesChanged):
        raise DemoError(f"expected key statuses, got {type(event).__name__}")
    ctx.key_statuses = dict(event.key_statuses)
    status = ctx.key_statuses.get(ctx.kid)
    if status is not KeyStatus.USABLE:
        raise DemoError(f"key {ctx.kid.hex()} is {status.name if status else 'missing'}")
    return f"{len(ctx.key_statuses)} key(s), ours usable"


async def decrypt_samples(ctx: DemoContext) -> str:
    """Decrypt every sample in place through the session."""
    assert ctx.session is not None and ctx.container is not None
    if ctx.fault is DemoFault.CDM_DECRYPT_ERROR:
        # The reference CDM's test control (docs/reference-cdm.md): fail decrypts until reset.
        ctx.container.hal().test_control(
            {"op": "inject", "key_system": "*", "operation": "decrypt", "count": -1, "fail_code": 1}
        )
    ctx.decrypted = []
    for sample in ctx.samples:
        buffer = bytearray(sample.encrypted)
        params = DecryptParams(CipherMode.CENC, ctx.kid, sample.iv, sample.subsamples)
        await ctx.session.decrypt(buffer, params)
        ctx.decrypted.append(bytes(buffer))
    return f"{len(ctx.decrypted)} samples"


async def verify_samples(ctx: DemoContext) -> str:
    """Compare every decrypted sample with its clear original, byte for byte."""
    if len(ctx.decrypted) != len(ctx.samples):
        raise DemoError("not every sample was decrypted")
    bad = [
        i for i, (s, d) in enumerate(zip(ctx.samples, ctx.decrypted, strict=True)) if s.clear != d
    ]
    if bad:
        raise DemoError(f"{len(bad)} of {len(ctx.samples)} samples differ (first: #{bad[0]})")
    return f"{len(ctx.samples)}/{len(ctx.samples)} identical"


async def close_session(ctx: DemoContext) -> str:
    """Close and release the key session (if one was created)."""
    if ctx.session is None:
        return "no session"
    session, ctx.session = ctx.session, None
    try:
        await session.close()
    finally:
        await session.release()
    return "closed and released"


async def destroy_media_keys(ctx: DemoContext) -> str:
    """Destroy the MediaKeys and shut the container's resources (HAL) down."""
    try:
        if ctx.media_keys is not None:
            media_keys, ctx.media_keys = ctx.media_keys, None
            await media_keys.destroy()
    finally:
        if ctx.container is not None:
            if ctx.fault is DemoFault.CDM_DECRYPT_ERROR:
                ctx.container.hal().test_control({"op": "reset"})
            pending = ctx.container.shutdown_resources()
            if pending is not None:
                await pending
    return "done"


async def stop_license_server(ctx: DemoContext) -> str:
    """Stop the license server and remove the demo's temporary state."""
    try:
        if ctx.http is not None:
            await ctx.http.aclose()
        if ctx.server is not None:
            await asyncio.to_thread(ctx.server.stop)
        if ctx.store is not None and ctx.users_key_store and ctx.kid:
            # A configured key store is the user's: leave it as it was.
            await asyncio.to_thread(ctx.store.remove, ctx.kid)
    finally:
        ctx.resources.close()
    return "stopped"


async def decrypt_real_mp4(ctx: DemoContext) -> str:
    """Decrypt a real MP4 (PyAV H.264, FFmpeg cenc under the demo's key) through the session."""
    from drmkit.media.demo import decrypt_real_mp4 as run_mp4_step

    assert ctx.session is not None
    return await run_mp4_step(ctx.session, ctx.kid, ctx.key)


def demo_steps(context: DemoContext | None = None) -> list[Step[DemoContext]]:
    """Return the demo's steps in order (insert more here, e.g. decrypting a real file).

    With a prepared ``context``, the key system's license helper may adapt them: a helper with a
    ``demo_steps(steps)`` method returns the list to run (e.g. the Netflix DPI flow).
    """
    steps = _generic_steps()
    if context is not None and context.container is not None:
        try:
            helper = context.container.plugin_manager().license_helper(context.key_system)
        except DrmError:
            helper = None
        if helper is not None:
            steps = helper.demo_steps(steps)
    return steps


def _generic_steps() -> list[Step[DemoContext]]:
    return [
        Step("start license server", start_license_server),
        Step("store a random content key", store_content_key),
        Step("encrypt samples (independent AES)", encrypt_samples),
        Step("create MediaKeys", create_media_keys),
        Step("create key session", create_session),
        Step("generate license request", generate_request),
        Step("fetch license over HTTP", fetch_license),
        Step("update session with license", update_session),
        Step("decrypt samples through the CDM", decrypt_samples),
        Step("verify samples byte for byte", verify_samples),
        Step("decrypt a real MP4 (FFmpeg cenc)", decrypt_real_mp4),
        Step("close and release session", close_session, cleanup=True),
        Step("destroy MediaKeys", destroy_media_keys, cleanup=True),
        Step("stop license server", stop_license_server, cleanup=True),
    ]


def summary(ctx: DemoContext) -> dict[str, Any]:
    """Return the facts of the run that scripts want (besides the steps)."""
    return {
        "key_system": ctx.key_system,
        "license_url": ctx.license_url if ctx.server is not None else None,
        "key_id": ctx.kid.hex() or None,
        "key_id_b64url": b64url_encode(ctx.kid) if ctx.kid else None,
        "init_data_type": ctx.init_data_type or None,
        "cdm_suggested_url": ctx.license_request.url if ctx.license_request else None,
        "key_statuses": [
            {"key_id": kid.hex(), "status": status.name} for kid, status in ctx.key_statuses.items()
        ],
        "samples": {
            "count": len(ctx.samples),
            "bytes": sum(len(s.clear) for s in ctx.samples),
            "decrypted": len(ctx.decrypted),
            "verified": sum(
                1 for s, d in zip(ctx.samples, ctx.decrypted, strict=False) if s.clear == d
            ),
        },
        "fault": str(ctx.fault) if ctx.fault is not DemoFault.NONE else None,
        "cdm": ctx.extra.get("cdm"),
    }
