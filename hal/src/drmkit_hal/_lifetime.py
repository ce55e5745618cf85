"""Lifetime guard of a C object: calls in flight vs. destruct.

Every OCDM call on a system or session enters the guard (refused once destruct has begun, and from
inside a CDM callback); destruct waits until the calls in flight have left, so the C object is
never freed under a running call.
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


class LifetimeGuard:
    """Counts calls in flight on one C object and serialises its destruction."""

    __slots__ = ("_cond", "_inflight", "_what", "state")

    def __init__(self, what: str, state: State = State.LIVE) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._inflight = 0
        self._what = what
        self.state = state

    def enter(self) -> None:
        """Start a call; raise ``HalError`` if the object is being or has been destructed."""
        if callback_state.active:
            raise HalError(f"OCDM call on {self._what} from inside a CDM callback is not allowed")
        with self._cond:
            if self.state is not State.LIVE:
                raise HalError(f"{self._what} is {self.state.value}")
            self._inflight += 1

    def leave(self) -> None:
        """End a call started with ``enter``."""
        with self._cond:
            self._inflight -= 1
            if self._inflight == 0:
                self._cond.notify_all()

    def begin_destruct(self) -> bool:
        """Move to DESTRUCTING once no call is in flight; False if another destruct ran already."""
        if callback_state.active:
            raise HalError(f"destruct of {self._what} from inside a CDM callback is not allowed")
        with self._cond:
            if self.state in (State.DESTRUCTING, State.DESTRUCTED):
                self._cond.wait_for(lambda: self.state is State.DESTRUCTED)
                return False
            self.state = State.DESTRUCTING
            self._cond.wait_for(lambda: self._inflight == 0)
            return True

    def end_destruct(self) -> None:
        """Mark the object destructed and wake concurrent destructors."""
        with self._cond:
            self.state = State.DESTRUCTED
            self._cond.notify_all()

    def set_live(self) -> None:
        """Mark a constructed object usable."""
        with self._cond:
            self.state = State.LIVE
