"""Forwarding of key-session events to the connection that owns the session, as notifications."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drmkit.events import KeyStatus
from drmkit.ipc.codec import b64encode

if TYPE_CHECKING:
    from drmkit.server.connection import ConnectionState


class ConnectionListener:
    """A ``MediaKeysListener`` that turns one session's events into notifications.

    It only ever writes to the connection it was created for: events of a session reach nobody
    else.
    """

    __slots__ = ("_connection", "_handle")

    def __init__(self, connection: ConnectionState, media_keys_handle: int) -> None:
        self._connection = connection
        self._handle = media_keys_handle

    def on_license_request(self, session_id: int, message: bytes, url: str) -> None:
        """Send ``license_request``."""
        self._connection.notify(
            "license_request",
            {
                "media_keys_handle": self._handle,
                "key_session_id": session_id,
                "message": b64encode(message),
                "url": url,
            },
        )

    def on_license_renewal(self, session_id: int, message: bytes) -> None:
        """Send ``license_renewal``."""
        self._connection.notify(
            "license_renewal",
            {
                "media_keys_handle": self._handle,
                "key_session_id": session_id,
                "message": b64encode(message),
            },
        )

    def on_key_statuses_changed(
        self, session_id: int, key_statuses: tuple[tuple[bytes, KeyStatus], ...]
    ) -> None:
        """Send ``key_statuses_changed`` (pairs of base64 key id and status value)."""
        self._connection.notify(
            "key_statuses_changed",
            {
                "media_keys_handle": self._handle,
                "key_session_id": session_id,
                "key_statuses": [[b64encode(kid), int(status)] for kid, status in key_statuses],
            },
        )
