"""The template points of the generic OCDM mapping, through the core and the reference CDM.

A plugin built only from override points (per-session state class, callback filter, license
preparation) serves the reference CDM's Clear Key: each point is called where the base class says,
and nothing of the generic flow (construct, the key-batch gate, update) is copied.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import pytest
from drmkit.config import PluginSettings
from drmkit.core import KeyStatus, KeyStatusesChanged, LicenseRequest, MediaKeys
from drmkit.errors import InvalidLicenseError
from drmkit.keysystems.manager import DrmPluginManager
from drmkit.sdk import (
    KeyBatchGate,
    KeySystemCapabilities,
    KeySystemInfo,
    MessageType,
    OcdmKeySystemPlugin,
    OcdmSessionState,
    SessionCallbacks,
    SessionContext,
    TestLicenseEndpoint,
    parse_json_test_challenge,
)
from drmkit.testing.flows import next_event

CLEARKEY = "org.w3.clearkey"
WRAPPED = b"wrapped:"
ENDPOINT = TestLicenseEndpoint(
    "/example/license", CLEARKEY, frozenset({CLEARKEY}), parse_json_test_challenge
)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def keyids(kids: list[bytes]) -> bytes:
    return json.dumps({"kids": [b64url(k) for k in kids]}).encode()


def jwk_set(keys: dict[bytes, bytes]) -> bytes:
    entries = [{"kty": "oct", "kid": b64url(k), "k": b64url(v)} for k, v in keys.items()]
    return json.dumps({"keys": entries, "type": "temporary"}).encode()


class RecordingState(OcdmSessionState):
    __slots__ = ("seen",)

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []


class Filter:
    """Classifies every challenge as an individualization request (a type only a filter knows)."""

    def __init__(self, core: SessionCallbacks, state: RecordingState) -> None:
        self.core, self.state = core, state

    def on_challenge(self, url: str, challenge: bytes) -> None:
        self.state.seen.append("challenge")
        self.core.on_challenge(url, challenge, MessageType.INDIVIDUALIZATION_REQUEST)

    def on_key_update(self, key_id: bytes) -> None:
        self.core.on_key_update(key_id)

    def on_keys_updated(self) -> None:
        self.state.seen.append("keys_updated")
        self.core.on_keys_updated()

    def on_error(self, message: str) -> None:
        self.core.on_error(message)


class TemplatePlugin(OcdmKeySystemPlugin):
    key_systems = (KeySystemInfo(CLEARKEY, KeySystemCapabilities(frozenset({"keyids"}))),)
    session_state_type = RecordingState
    test_license_endpoints = (ENDPOINT,)

    def __init__(self) -> None:
        self.calls: list[str] = []

    def wrap_callbacks(self, session: SessionContext, callbacks: SessionCallbacks) -> Filter:
        self.calls.append(f"wrap {type(callbacks).__name__}")
        return Filter(callbacks, RecordingState.of(session))

    def validate_license(self, session: SessionContext, response: bytes) -> None:
        self.calls.append("validate_license")
        if not response.startswith(WRAPPED):
            raise InvalidLicenseError("not wrapped")

    def prepare_license(self, session: SessionContext, response: bytes) -> bytes:
        self.calls.append("prepare_license")
        return super().prepare_license(session, response).removeprefix(WRAPPED)

    def apply_license(self, session: SessionContext, response: bytes) -> None:
        self.calls.append("apply_license")
        gate = self.key_batch(session)  # the gate exists behind a plugin's filter too
        gate.hold()
        try:
            super().apply_license(session, response)
        finally:
            gate.release()


@pytest.fixture
def drmkit_key_system() -> str:
    return CLEARKEY


@pytest.fixture
def plugin() -> TemplatePlugin:
    return TemplatePlugin()


@pytest.fixture
def drmkit_plugin_manager(plugin: TemplatePlugin) -> Iterator[DrmPluginManager]:
    manager = DrmPluginManager(PluginSettings(enabled=[]))
    manager.add_key_system_plugin(plugin, "template")
    yield manager


async def test_template_points_are_called_in_the_generic_flow(
    media_keys: MediaKeys,
    plugin: TemplatePlugin,
    drmkit_new_keys: Callable[..., dict[bytes, bytes]],
) -> None:
    keys = drmkit_new_keys(2)
    session = await media_keys.create_session()
    context = session._context
    assert type(context.state) is RecordingState  # drm_create_session: session_state_type
    events = session.events()
    await session.generate_request("keyids", keyids(list(keys)))
    request = await next_event(events)
    # The filter's message type went through the key-batch gate to the core.
    assert isinstance(request, LicenseRequest)
    assert request.message_type is MessageType.INDIVIDUALIZATION_REQUEST
    assert plugin.calls == ["wrap KeyBatchGate"]
    assert isinstance(context.state.callbacks, KeyBatchGate)

    with pytest.raises(InvalidLicenseError, match="not wrapped"):
        await session.update(jwk_set(keys))
    assert plugin.calls[1:] == ["prepare_license", "validate_license"]  # never applied
    plugin.calls.clear()
    await session.update(WRAPPED + jwk_set(keys))
    assert plugin.calls == ["prepare_license", "validate_license", "apply_license"]
    changed = await next_event(events, KeyStatusesChanged)
    assert isinstance(changed, KeyStatusesChanged)
    assert dict(changed.key_statuses) == dict.fromkeys(keys, KeyStatus.USABLE)
    assert "keys_updated" in context.state.seen and context.state.seen[0] == "challenge"


def test_the_endpoints_hook_declares_the_class_attribute(
    plugin: TemplatePlugin, drmkit_plugin_manager: DrmPluginManager
) -> None:
    assert plugin.drm_test_license_endpoints() == [ENDPOINT]
    assert drmkit_plugin_manager.test_license_endpoints() == [ENDPOINT]
    assert OcdmKeySystemPlugin().drm_test_license_endpoints() == []


def test_session_state_of_makes_the_class_it_is_asked_for() -> None:
    context = SimpleNamespace(state=None)  # a context whose session never got its state
    first = RecordingState.of(context)
    assert type(first) is RecordingState and context.state is first
    assert RecordingState.of(context) is first
    assert OcdmSessionState.of(context) is first  # an instance of a subclass is kept
