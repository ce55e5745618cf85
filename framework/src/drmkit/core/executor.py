"""Per-session serial execution of CDM calls on a shared thread pool.

CDM calls block (they are C calls), so they never run on the event loop. Calls of one session run
one after another in submission order; calls of different sessions run concurrently on the pool.
This is how one slow CDM call stalls only its own session (Rialto's single server thread stalls
every session). A serial executor holds no thread and no task while idle, so ten thousand open
sessions cost a deque each.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Job = tuple[Callable[[], Any], "asyncio.Future[Any]"]


class SerialExecutor:
    """Runs submitted callables on ``pool`` one at a time, in order; results land on ``loop``."""

    __slots__ = ("_busy", "_jobs", "_loop", "_pool")

    def __init__(self, loop: asyncio.AbstractEventLoop, pool: concurrent.futures.Executor) -> None:
        self._loop = loop
        self._pool = pool
        self._jobs: deque[_Job] | None = None
        self._busy = False

    @property
    def idle(self) -> bool:
        """``True`` when nothing is running or queued."""
        return not self._busy

    def submit(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        """Queue ``fn`` (called on a pool thread) and return a future resolved on the loop.

        Must be called on the loop thread. Cancelling the returned future does not stop a call that
        already started (a C call cannot be interrupted); later jobs still wait for it.
        """
        future: asyncio.Future[T] = self._loop.create_future()
        if self._busy:
            if self._jobs is None:
                self._jobs = deque()
            self._jobs.append((fn, future))
        else:
            self._start(fn, future)
        return future

    def _start(self, fn: Callable[[], Any], future: asyncio.Future[Any]) -> None:
        self._busy = True
        try:
            work = self._pool.submit(fn)
        except RuntimeError as exc:  # pool shut down
            self._busy = False
            if not future.done():
                future.set_exception(exc)
            return
        work.add_done_callback(lambda done: self._hand_back(done, future))

    def _hand_back(self, done: concurrent.futures.Future[Any], future: asyncio.Future[Any]) -> None:
        # Runs on the pool thread: hand the outcome to the loop.
        with contextlib.suppress(RuntimeError):  # loop closed: nobody is waiting any more
            self._loop.call_soon_threadsafe(self._finish, done, future)

    def _finish(self, done: concurrent.futures.Future[Any], future: asyncio.Future[Any]) -> None:
        if not future.done():
            error = done.exception()
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(done.result())
        self._busy = False
        while self._jobs:
            fn, next_future = self._jobs.popleft()
            if not next_future.cancelled():
                self._start(fn, next_future)
                return
