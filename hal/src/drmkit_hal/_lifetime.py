"""Lifetime guard of a C object: calls in flight vs. destruct.

Every OCDM call on a system or session enters the guard (refused once destruct has begun, and from
inside a CDM callback); destruct waits until the calls in flight have left, so the C object is
never freed under a running call. The call path takes one uncontended lock twice and wakes nobody
unless a destruct is waiting.
"""

from __future__ import annotations

import threading
from enum import Enum

from ._callbacks import callback_state
from .errors import HalError


class State(Enum):
    """Where a guarded object is in its life."""

    CONSTRUCTING = "constructing"
    LIVE = "live"
    DESTRUCTING = "destructing"
    DESTRUCTED = "destructed"


_LIVE = State.LIVE
_DESTRUCTING = State.DESTRUCTING
_DESTRUCTED = State.DESTRUCTED


class LifetimeGuard:
    """Counts calls in flight on one C object and serialises its destruction."""

    __slots__ = ("_done", "_drained", "_inflight", "_lock", "_what", "state")

    def __init__(self, what: str, state: State = State.LIVE) -> None:
        self._lock = threading.Lock()
        # A CONSTRUCTING object counts its construct call as one call in flight, so a destruct
        # racing with construct waits for it and then frees what construct produced.
        self._inflight = 1 if state is State.CONSTRUCTING else 0
        self._drained: threading.Event | None = None  # set while a destruct waits
        self._done = threading.Event()
        self._what = what
        self.state = state

    def enter(self) -> None:
        """Start a call; raise ``HalError`` if the object is being or has been destructed."""
        if callback_state.active:
            raise HalError(f"OCDM call on {self._what} from inside a CDM callback is not allowed")
        # Explicit acquire/release: measurably cheaper than `with` on the decrypt hot path, and
        # nothing between them can raise.
        lock = self._lock
        lock.acquire()
        if self.state is _LIVE:
            self._inflight += 1
            lock.release()
            return
        state = self.state
        lock.release()
        raise HalError(f"{self._what} is {state.value}")

    def leave(self) -> None:
        """End a call started with ``enter``."""
        lock = self._lock
        lock.acquire()
        self._inflight -= 1
        if self._inflight == 0 and self._drained is not None:
            self._drained.set()
        lock.release()

    def begin_destruct(self) -> bool:
        """Move to DESTRUCTING once no call is in flight; False if another destruct ran already."""
        if callback_state.active:
            raise HalError(f"destruct of {self._what} from inside a CDM callback is not allowed")
        with self._lock:
            if self.state is _DESTRUCTING or self.state is _DESTRUCTED:
                first = False
            else:
                first = True
                self.state = _DESTRUCTING
                drained = None
                if self._inflight:
                    drained = self._drained = threading.Event()
        if not first:
            self._done.wait()
            return False
        if drained is not None:
            drained.wait()
            with self._lock:
                if self.state is _DESTRUCTED:  # the construct we waited for failed
                    return False
        return True

    def end_destruct(self) -> None:
        """Mark the object destructed and wake concurrent destructors."""
        with self._lock:
            self.state = _DESTRUCTED
            self._drained = None
        self._done.set()

    def constructed(self) -> None:
        """End a successful construct: LIVE, unless a destruct is already waiting for it."""
        with self._lock:
            if self.state is State.CONSTRUCTING:
                self.state = _LIVE
            self._inflight -= 1
            if self._inflight == 0 and self._drained is not None:
                self._drained.set()

    def begin_failed_construct(self) -> None:
        """Start undoing a failed construct: callbacks are dropped from now on."""
        with self._lock:
            self.state = _DESTRUCTING

    def end_failed_construct(self) -> None:
        """Finish a failed construct: DESTRUCTED, waking any destruct waiting for it."""
        with self._lock:
            self.state = _DESTRUCTED
            self._inflight -= 1
            drained, self._drained = self._drained, None
        if drained is not None:
            drained.set()
        self._done.set()
