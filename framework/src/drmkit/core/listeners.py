"""Delivery of session events to listener objects and async iterators."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator

from drmkit.events import (
    KeySessionEvent,
    KeyStatusesChanged,
    LicenseRenewal,
    LicenseRequest,
    MediaKeysListener,
)

log = logging.getLogger(__name__)

_background: set[asyncio.Task[None]] = set()


def deliver_to_listener(listener: MediaKeysListener, event: KeySessionEvent) -> None:
    """Call the listener method for ``event``; log (never propagate) what the listener raises."""
    try:
        if isinstance(event, LicenseRequest):
            result = listener.on_license_request(event.session_id, event.message, event.url)
        elif isinstance(event, LicenseRenewal):
            result = listener.on_license_renewal(event.session_id, event.message)
        else:
            result = listener.on_key_statuses_changed(event.session_id, event.key_statuses)
    except Exception:
        log.exception("listener %r raised while handling %s", listener, type(event).__name__)
        return
    if inspect.isawaitable(result):
        task = asyncio.ensure_future(result)
        _background.add(task)
        task.add_done_callback(_finish_listener_task)


def _finish_listener_task(task: asyncio.Task[None]) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("async listener raised", exc_info=task.exception())


class EventStream:
    """An async iterator over one session's events; ends when the session is released.

    Use ``async for event in session.events():``. Each stream has its own unbounded queue, so
    several consumers of one session each see every event.
    """

    _END = object()

    def __init__(self) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._closed = False

    def push(self, event: KeySessionEvent) -> None:
        """Queue ``event`` for the consumer."""
        if not self._closed:
            self._queue.put_nowait(event)

    def end(self) -> None:
        """Finish the stream after the events already queued."""
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(self._END)

    def __aiter__(self) -> AsyncIterator[KeySessionEvent]:
        return self

    async def __anext__(self) -> KeySessionEvent:
        item = await self._queue.get()
        if item is self._END:
            self._queue.put_nowait(self._END)  # later calls also stop
            raise StopAsyncIteration
        assert isinstance(item, LicenseRequest | LicenseRenewal | KeyStatusesChanged)
        return item

    async def next(self, timeout: float | None = None) -> KeySessionEvent:
        """Return the next event, waiting at most ``timeout`` seconds (``TimeoutError``)."""
        # ``asyncio.timeout`` waits in the calling task; ``wait_for`` would start a task per event.
        async with asyncio.timeout(timeout):
            return await self.__anext__()
