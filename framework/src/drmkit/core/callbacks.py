"""The bridge that carries CDM callbacks from the CDM's thread to the session's event loop.

The HAL calls these methods on the CDM's own thread. They never call the CDM and never take a lock
an OCDM caller may hold: they copy the arguments and hand them to the loop with
``call_soon_threadsafe``. The one exception is the error callback, which is also recorded at once so
that an error raised *during* an operation fails that operation (Rialto PR #98).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from drmkit.events import MessageType

if TYPE_CHECKING:
    from drmkit.core.session import KeySession

log = logging.getLogger(__name__)


class CallbackBridge:
    """Implements the HAL ``SessionCallbacks`` protocol for one key session."""

    __slots__ = ("_loop", "_op_error", "_op_running", "_session")

    def __init__(self, loop: asyncio.AbstractEventLoop, session: KeySession) -> None:
        self._loop = loop
        self._session: KeySession | None = session
        self._op_running = False
        self._op_error: str | None = None

    # -- error capture around one operation (called on the worker thread) -----------------------

    def begin_operation(self) -> None:
        """Start capturing error callbacks for the operation about to run."""
        self._op_error = None
        self._op_running = True

    def end_operation(self) -> str | None:
        """Stop capturing; return the message of an error callback fired meanwhile, if any."""
        self._op_running = False
        error, self._op_error = self._op_error, None
        return error

    def detach(self) -> None:
        """Drop the session: later callbacks are ignored (after release)."""
        self._session = None

    # -- SessionCallbacks (called on the CDM's thread) ------------------------------------------

    def on_challenge(
        self, url: str, challenge: bytes, message_type: MessageType | None = None
    ) -> None:
        """Forward a challenge (license request or renewal) to the loop.

        ``message_type`` is given by plugins that classify their CDM's messages (the HAL never
        passes it); without it the core tells a request from a renewal by order.
        """
        session = self._session
        if session is not None:
            kind = None if message_type is None else MessageType(message_type)
            self._post(session._on_challenge, str(url), bytes(challenge), kind)

    def on_key_update(self, key_id: bytes) -> None:
        """Forward one key's status change to the loop."""
        session = self._session
        if session is not None:
            self._post(session._on_key_update, bytes(key_id))

    def on_keys_updated(self) -> None:
        """Forward the end of a batch of key updates to the loop."""
        session = self._session
        if session is not None:
            self._post(session._on_keys_updated)

    def on_error(self, message: str) -> None:
        """Fail the running operation, or log an error that arrives outside any operation."""
        if self._op_running:
            self._op_error = str(message) or "error callback"
        else:
            log.warning(
                "asynchronous CDM error outside an operation",
                extra={"session_id": getattr(self._session, "id", None), "cdm_error": message},
            )

    def _post(self, handler: object, *args: object) -> None:
        try:
            self._loop.call_soon_threadsafe(handler, *args)  # type: ignore[arg-type]
        except RuntimeError:  # the loop is closed: the session is gone with it
            log.debug("dropping a CDM callback: event loop closed")
