"""The ``extern "Python"`` CDM callbacks and the ``SessionCallbacks`` protocol.

The CDM calls these on its own thread (cffi takes the GIL for it). ``userData`` is a token: an
integer naming the ``CdmSession`` wrapper in a registry, not a pointer to it. A callback that a
library delivers late (Thunder's client can deliver one for a session already destructed) finds no
entry and is dropped, instead of following a pointer to a freed handle.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Protocol, TypeVar, runtime_checkable

from ._cdata import c_bytes, c_text
from ._ocdm import ffi

log = logging.getLogger("drmkit_hal")


@runtime_checkable
class SessionCallbacks(Protocol):
    """Receiver of one session's CDM events, called on the CDM's own thread.

    Never hold a lock the caller of an OCDM call may hold, and never call back into the HAL from
    a callback (the HAL raises ``HalError`` if you do): hand the event to your own thread or loop.
    """

    def on_challenge(self, url: str, challenge: bytes) -> None:
        """Receive a license request or renewal (``url`` and ``challenge`` may be empty)."""

    def on_key_update(self, key_id: bytes) -> None:
        """Note that the status of ``key_id`` changed (read it with ``CdmSession.status``)."""

    def on_error(self, message: str) -> None:
        """Receive an asynchronous error of the CDM."""

    def on_keys_updated(self) -> None:
        """Note that all key-status updates of one batch have been delivered."""


class CallbackSink(Protocol):
    """What a ``userData`` handle points at (implemented by ``CdmSession``)."""

    def _deliver(self, event: str, *args: object) -> None: ...


class _CallbackThreadState(threading.local):
    # True while this thread runs a SessionCallbacks method: OCDM calls are refused then.
    active = False


callback_state = _CallbackThreadState()


def log_callback_error(
    exc_type: type[BaseException] | None,
    exc_value: BaseException | None,
    traceback: TracebackType | None,
) -> None:
    """Log an exception escaping a callback: it must never unwind into C."""
    log.error("exception in an OCDM callback (swallowed): %r", exc_value, exc_info=exc_value)


_Callback = TypeVar("_Callback", bound=Callable[..., None])


def _extern(function: _Callback) -> _Callback:
    """Attach ``function`` to its ``extern "Python"`` declaration (errors logged, never raised)."""
    ffi.def_extern(onerror=log_callback_error)(function)
    return function


# token -> session wrapper; plain dict operations are atomic under the GIL.
_sinks: dict[int, CallbackSink] = {}
_tokens = itertools.count(1)


def register_sink(sink: CallbackSink) -> object:
    """Register ``sink``; return the ``void*`` userData naming it (never a real pointer)."""
    token = next(_tokens)
    _sinks[token] = sink
    return ffi.cast("void *", token)


def unregister_sink(user_data: object) -> None:
    """Forget the sink of ``user_data``: later callbacks with it are dropped."""
    _sinks.pop(int(ffi.cast("uintptr_t", user_data)), None)


def _sink(user_data: object) -> CallbackSink | None:
    sink = _sinks.get(int(ffi.cast("uintptr_t", user_data)))
    if sink is None:
        log.debug("OCDM callback for a destructed (or unknown) session dropped")
    return sink


@_extern
def hal_on_challenge(
    session: object, user_data: object, url: object, challenge: object, length: int
) -> None:
    """``process_challenge_callback``."""
    sink = _sink(user_data)
    if sink is not None:
        sink._deliver("on_challenge", c_text(url), c_bytes(challenge, length))


@_extern
def hal_on_key_update(session: object, user_data: object, key_id: object, length: int) -> None:
    """``key_update_callback``."""
    sink = _sink(user_data)
    if sink is not None:
        sink._deliver("on_key_update", c_bytes(key_id, length))


@_extern
def hal_on_error(session: object, user_data: object, message: object) -> None:
    """``error_message_callback``."""
    sink = _sink(user_data)
    if sink is not None:
        sink._deliver("on_error", c_text(message))


@_extern
def hal_on_keys_updated(session: object, user_data: object) -> None:
    """``keys_updated_callback``."""
    sink = _sink(user_data)
    if sink is not None:
        sink._deliver("on_keys_updated")
