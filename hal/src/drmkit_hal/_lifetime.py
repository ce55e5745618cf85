"""Lifetime guard of a C object: calls in flight vs. destruct.

Every OCDM call on a system or session enters the guard (refused once destruct has begun, and from
inside a CDM callback); destruct waits until the calls in flight have left, so the C object is
never freed under a running call.

The call path takes no lock: a call first registers itself (``deque.append``, atomic), then reads
the state; destruct first writes the state, then reads the registrations. Whichever order the two
interleave in, either destruct sees the call and waits for it, or the call sees the new state and
backs out. The decrypt fast path pays two deque operations instead of two lock round trips.
"""

from __future__ import annotations

import threading
from collections import deque
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
        self._lock = threading.Lock()  # serialises state transitions (not the call path)
        # One entry per call in flight. A CONSTRUCTING object counts its construct call, so a
        # destruct racing with construct waits for it and then frees what construct produced.
        self._inflight: deque[None] = deque([None] if state is State.CONSTRUCTING else [])
        self._drained: threading.Event | None = None  # set while a destruct waits
        self._done = threading.Event()
        self._what = what
        self.state = state

    @property
    def calls_in_flight(self) -> int:
        """How many calls are inside the C object right now."""
        return len(self._inflight)

    def enter(self) -> None:
        """Start a call; raise ``HalError`` if the object is being or has been destructed."""
        if callback_state.active:
            raise HalError(f"OCDM call on {self._what} from inside a CDM callback is not allowed")
        self._inflight.append(None)  # register first ...
        state = self.state  # ... then look: see the module docstring
        if state is not _LIVE:
            self.leave()
            raise HalError(f"{self._what} is {state.value}")

    def leave(self) -> None:
        """End a call started with ``enter``."""
        self._inflight.pop()
        drained = self._drained
        if drained is not None and not self._inflight:
            drained.set()

    def begin_destruct(self) -> bool:
        """Move to DESTRUCTING once no call is in flight; False if another destruct ran already."""
        if callback_state.active:
            raise HalError(f"destruct of {self._what} from inside a CDM callback is not allowed")
        with self._lock:
            if self.state is _DESTRUCTING or self.state is _DESTRUCTED:
                first = False
            else:
                first = True
                drained = self._drained = threading.Event()
                self.state = _DESTRUCTING  # write the state first ...
        if not first:
            self._done.wait()
            return False
        if self._inflight:  # ... then look at the calls in flight
            drained.wait()
        with self._lock:
            self._drained = None
            if self.state is _DESTRUCTED:  # the construct we waited for failed
                return False
        return True

    def end_destruct(self) -> None:
        """Mark the object destructed and wake concurrent destructors."""
        with self._lock:
            self.state = _DESTRUCTED
        self._done.set()

    def constructed(self) -> None:
        """End a successful construct: LIVE, unless a destruct is already waiting for it."""
        with self._lock:
            if self.state is State.CONSTRUCTING:
                self.state = _LIVE
        self.leave()

    def begin_failed_construct(self) -> None:
        """Start undoing a failed construct: callbacks are dropped from now on."""
        with self._lock:
            self.state = _DESTRUCTING

    def end_failed_construct(self) -> None:
        """Finish a failed construct: DESTRUCTED, waking any destruct waiting for it."""
        with self._lock:
            self.state = _DESTRUCTED
        self.leave()
        self._done.set()
