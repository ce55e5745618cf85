"""Per-session state of the PlayReady plugin and the filter between the CDM and the core.

:class:`PlayReadyCallbacks` sits between the CDM's callbacks and the core's (``session.callbacks``).
Its one job is the Netflix CDM's ``"properties"`` message: the first ``select_key_id`` of a session
posts the output-protection play levels through the challenge callback with url ``"properties"``
(JSON, its trailing NUL counted in the length). It is not a license message, so it is kept in the
session state (:attr:`PlayReadySessionState.play_levels`) and never reaches the application as a
renewal. The filter runs on the CDM's callback thread: it only records and forwards.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from drmkit.sdk import OcdmSessionState, SessionCallbacks

from drmkit_playready_netflix.initdata import PlayReadyInitData

log = logging.getLogger(__name__)

PROPERTIES_URL = "properties"
"""The url of the Netflix CDM's play-level message (not a license challenge)."""


class PlayReadySessionState(OcdmSessionState):
    """What the plugin keeps per session (``session.state``).

    ``selected_key_id`` is the key the application selected (samples without a key id use it);
    ``bound_key_id`` the key the CDM's decrypt context is bound to (a sample naming a key binds
    that one; ``clean_decrypt_context`` drops both); ``init_data`` the parsed header the session
    was built with (or last given by ``set_drm_header``).
    """

    __slots__ = ("_lock", "bound_key_id", "cleaned", "init_data", "play_levels", "selected_key_id")

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.selected_key_id: bytes | None = None
        self.bound_key_id: bytes | None = None
        self.init_data: PlayReadyInitData | None = None
        self.play_levels: dict[str, Any] | None = None
        self.cleaned = False

    def set_play_levels(self, levels: dict[str, Any]) -> None:
        """Record the play levels the CDM announced (callback thread)."""
        with self._lock:
            self.play_levels = levels

    def get_play_levels(self) -> dict[str, Any] | None:
        """Return the play levels the CDM announced, if it did."""
        with self._lock:
            return None if self.play_levels is None else dict(self.play_levels)


def parse_properties(payload: bytes) -> dict[str, Any]:
    """Parse the ``"properties"`` JSON (NUL-terminated); ``ValueError`` if it is not an object."""
    text = bytes(payload).rstrip(b"\x00").decode("utf-8")
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError("the properties message is not a JSON object")
    return document


class PlayReadyCallbacks:
    """Implements the HAL ``SessionCallbacks`` for a PlayReady session, forwarding to the core.

    ``core`` is what ``OcdmKeySystemPlugin.wrap_callbacks`` is given (a
    :class:`drmkit.sdk.SessionCallbacks`).
    """

    __slots__ = ("_core", "_state")

    def __init__(self, core: SessionCallbacks, state: PlayReadySessionState) -> None:
        self._core = core
        self._state = state

    def on_challenge(self, url: str, challenge: bytes) -> None:
        """Keep the ``"properties"`` message; forward every other challenge."""
        if url == PROPERTIES_URL:
            try:
                self._state.set_play_levels(parse_properties(challenge))
            except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                log.warning("ignoring a malformed properties message from the CDM: %s", exc)
            return
        self._core.on_challenge(url, challenge)

    def on_key_update(self, key_id: bytes) -> None:
        """Forward a key-status change."""
        self._core.on_key_update(key_id)

    def on_keys_updated(self) -> None:
        """Forward the end of a key-status batch."""
        self._core.on_keys_updated()

    def on_error(self, message: str) -> None:
        """Forward an error callback (the core fails the running operation with it)."""
        self._core.on_error(message)
