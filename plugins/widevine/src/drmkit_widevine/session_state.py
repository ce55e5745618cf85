"""Per-session state of the Widevine plugin and the filter between the CDM and the core.

:class:`WidevineCallbacks` sits between the CDM's callbacks and the core's (``session.callbacks``):
it strips the ``"<n>:Type:"`` prefix, hands the core the bare message with its type, records which
messages await an answer, and notices empty challenges (OCDM Widevine's way of saying that the
request could not be generated). It runs on the CDM's callback thread, so it only records and
forwards (never calls the CDM); the state it shares with the worker thread is under a lock.
"""

from __future__ import annotations

import logging
import threading

from drmkit.sdk import MessageType, OcdmSessionState, SessionCallbacks

from drmkit_widevine.messages import split_message

log = logging.getLogger(__name__)


class WidevineSessionState(OcdmSessionState):
    """What the plugin keeps per session (``session.state``)."""

    __slots__ = ("_lock", "_pending", "empty_challenges", "errors_seen")

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._pending: list[MessageType | None] = []
        self.empty_challenges = 0
        self.errors_seen = 0

    def message_sent(self, message_type: MessageType | None) -> None:
        """Note a message that awaits an answer."""
        with self._lock:
            self._pending.append(message_type)

    def pending(self) -> list[MessageType | None]:
        """Return the messages awaiting an answer, oldest first."""
        with self._lock:
            return list(self._pending)

    def answered(self) -> None:
        """Note that an update answered every pending message."""
        with self._lock:
            self._pending.clear()

    def note_error(self) -> None:
        """Count an error callback (an update that drew one answered nothing)."""
        with self._lock:
            self.errors_seen += 1

    def note_empty_challenge(self) -> None:
        """Count an empty challenge (a failed generate request)."""
        with self._lock:
            self.empty_challenges += 1


class WidevineCallbacks:
    """Implements the HAL ``SessionCallbacks`` for a Widevine session, forwarding to the core.

    ``core`` is what ``OcdmKeySystemPlugin.wrap_callbacks`` is given: a
    :class:`drmkit.sdk.SessionCallbacks`, whose ``on_challenge`` takes the message type.
    """

    __slots__ = ("_core", "_state")

    def __init__(self, core: SessionCallbacks, state: WidevineSessionState) -> None:
        self._core = core
        self._state = state

    def on_challenge(self, url: str, challenge: bytes) -> None:
        """Strip the prefix, classify, and forward the bare message (empty: a failed request)."""
        message = split_message(bytes(challenge))
        if not message.body:
            # OCDM Widevine reports a failed generateRequest as OnKeyMessage("", 0, ""): not a
            # message anyone can answer. drm_generate_request turns it into an error.
            self._state.note_empty_challenge()
            log.warning("the Widevine CDM produced an empty challenge (request failed)")
            return
        if message.message_type is None and message.raw_type is not None:
            log.warning(
                "unknown Widevine message type %d; delivered unclassified", message.raw_type
            )
        self._state.message_sent(message.message_type)
        self._core.on_challenge(url, message.body, message.message_type)

    def on_key_update(self, key_id: bytes) -> None:
        """Forward a key-status change."""
        self._core.on_key_update(key_id)

    def on_keys_updated(self) -> None:
        """Forward the end of a key-status batch."""
        self._core.on_keys_updated()

    def on_error(self, message: str) -> None:
        """Count and forward an error callback."""
        self._state.note_error()
        self._core.on_error(message)
