"""The ``"<n>:Type:"`` prefix: stripping, classification, and the callback filter."""

from __future__ import annotations

import pytest
from drmkit.events import MessageType
from drmkit_widevine.messages import add_prefix, split_message
from drmkit_widevine.session_state import WidevineCallbacks, WidevineSessionState
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize("kind", list(MessageType))
def test_prefix_is_stripped_and_classified(kind: MessageType) -> None:
    message = split_message(add_prefix(b"\x08\x01body", kind))
    assert (message.body, message.message_type, message.raw_type) == (b"\x08\x01body", kind, kind)


@pytest.mark.parametrize(
    ("challenge", "body", "kind", "raw"),
    [
        (b"7:Type:body", b"body", None, 7),  # unknown number: stripped, unclassified
        (b"body", b"body", None, None),  # no prefix (individualization on real OCDM Widevine)
        (b"0:Type:", b"", MessageType.LICENSE_REQUEST, 0),
        (b"", b"", None, None),
        (b"0:type:body", b"0:type:body", None, None),  # case matters
        (b"1234:Type:x", b"1234:Type:x", None, None),  # not a message type number
        (b" 0:Type:x", b" 0:Type:x", None, None),
    ],
)
def test_odd_prefixes(challenge: bytes, body: bytes, kind: MessageType | None, raw: int) -> None:
    message = split_message(challenge)
    assert (message.body, message.message_type, message.raw_type) == (body, kind, raw)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def on_challenge(
        self, url: str, challenge: bytes, message_type: MessageType | None = None
    ) -> None:
        self.calls.append(("challenge", url, challenge, message_type))

    def on_key_update(self, key_id: bytes) -> None:
        self.calls.append(("key", key_id))

    def on_keys_updated(self) -> None:
        self.calls.append(("keys_updated",))

    def on_error(self, message: str) -> None:
        self.calls.append(("error", message))


def test_callback_filter_forwards_bare_messages_and_tracks_what_is_pending() -> None:
    core, state = Recorder(), WidevineSessionState()
    callbacks = WidevineCallbacks(core, state)
    callbacks.on_challenge("u", b"3:Type:cert-request")
    callbacks.on_challenge("u", b"0:Type:request")
    callbacks.on_challenge("", b"0:Type:")  # failed request: not forwarded
    callbacks.on_key_update(b"k")
    callbacks.on_keys_updated()
    callbacks.on_error("TypeError")
    assert core.calls == [
        ("challenge", "u", b"cert-request", MessageType.INDIVIDUALIZATION_REQUEST),
        ("challenge", "u", b"request", MessageType.LICENSE_REQUEST),
        ("key", b"k"),
        ("keys_updated",),
        ("error", "TypeError"),
    ]
    assert state.pending() == [MessageType.INDIVIDUALIZATION_REQUEST, MessageType.LICENSE_REQUEST]
    assert (state.empty_challenges, state.errors_seen) == (1, 1)
    state.answered()
    assert state.pending() == []


@settings(max_examples=300, deadline=None)
@given(
    challenge=st.binary(max_size=40)
    | st.builds(
        lambda number, body: number + b":Type:" + body,
        st.sampled_from([b"0", b"1", b"2", b"3", b"9", b"00", b"123"]),
        st.binary(max_size=20),
    )
)
def test_fuzz_split_message_keeps_every_byte_after_the_prefix(challenge: bytes) -> None:
    message = split_message(challenge)
    assert challenge.endswith(message.body)
    prefix = challenge[: len(challenge) - len(message.body)]
    if prefix:
        assert prefix.endswith(b":Type:") and int(prefix[:-6]) == message.raw_type
        assert message.message_type is None or int(message.message_type) == message.raw_type
    else:
        assert message.raw_type is None and message.message_type is None
