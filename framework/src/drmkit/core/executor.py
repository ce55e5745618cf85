"""Per-session serial execution of CDM calls on a shared thread pool.

CDM calls block (they are C calls), so they never run on the event loop. Calls of one session run
one after another in submission order; calls of different sessions run concurrently on the pool.
This is how one slow CDM call stalls only its own session (Rialto's single server thread stalls
every session). A serial executor holds no thread and no task while idle, so ten thousand open
sessions cost a deque each.

Jobs queued behind a running one are run back to back by the same pool thread (one thread hop for
the lot, not one per job); after :data:`MAX_JOBS_PER_TURN` jobs the thread goes to the back of the
pool's queue so that one busy session cannot starve the others. Each result is handed to the loop
as soon as its job ends.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Job = tuple[Callable[[], Any], "asyncio.Future[Any]"]

#: Jobs one pool thread runs for an executor before it yields to the other executors' work.
MAX_JOBS_PER_TURN = 64

# One lock for every executor's queue hand-over (append-and-check vs pop-or-stop): the sections
# it guards are a few bytecodes long, and a lock per session would cost memory per session.
_queue_lock = threading.Lock()


class SerialExecutor:
    """Runs submitted callables on ``pool`` one at a time, in order; results land on ``loop``."""

    __slots__ = ("_jobs", "_loop", "_pending", "_pool", "_scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop, pool: concurrent.futures.Executor) -> None:
        self._loop = loop
        self._pool = pool
        self._jobs: deque[_Job] | None = None
        self._scheduled = False  # a pool thread is running (or about to run) this queue
        self._pending = 0  # jobs submitted whose outcome has not reached the loop yet

    @property
    def idle(self) -> bool:
        """``True`` when nothing is running or queued."""
        return self._pending == 0

    def submit(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        """Queue ``fn`` (called on a pool thread) and return a future resolved on the loop.

        Must be called on the loop thread. Cancelling the returned future does not stop a call that
        already started (a C call cannot be interrupted); later jobs still wait for it. A job whose
        future is cancelled before it starts is skipped.
        """
        future: asyncio.Future[T] = self._loop.create_future()
        self._pending += 1
        with _queue_lock:
            if self._jobs is None:
                self._jobs = deque()
            self._jobs.append((fn, future))
            if self._scheduled:
                return future
            self._scheduled = True
        try:
            self._pool.submit(self._drain)
        except RuntimeError as exc:  # pool shut down: nothing queued here can run any more
            self._fail_queued(exc)
        return future

    def _fail_queued(self, error: BaseException) -> None:
        # On the loop thread.
        with _queue_lock:
            jobs, self._jobs = self._jobs, None
            self._scheduled = False
        for _, future in jobs or ():
            self._settle(future, None, error)

    def _drain(self) -> None:
        # On a pool thread: run queued jobs back to back until the queue is empty.
        post = self._loop.call_soon_threadsafe
        settle = self._settle
        ran = 0
        while True:
            with _queue_lock:
                jobs = self._jobs
                if not jobs:
                    self._scheduled = False
                    return
                fn, future = jobs.popleft()
            result: Any = None
            error: BaseException | None = None
            if not future.cancelled():
                try:
                    result = fn()
                except StopIteration as exc:  # a future cannot hold StopIteration
                    error = RuntimeError(f"job raised StopIteration: {exc}")
                except BaseException as exc:
                    error = exc
            try:
                post(settle, future, result, error)
            except RuntimeError:  # loop closed: nobody is waiting any more; run nothing else
                with _queue_lock:
                    self._jobs = None
                    self._scheduled = False
                return
            ran += 1
            if ran >= MAX_JOBS_PER_TURN:
                try:
                    self._pool.submit(self._drain)  # the rest goes to the back of the pool queue
                    return
                except RuntimeError:  # pool shutting down: finish the queue on this thread
                    ran = 0

    def _settle(
        self, future: asyncio.Future[Any], result: Any, error: BaseException | None
    ) -> None:
        # On the loop thread.
        self._pending -= 1
        if future.done():
            return
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
