"""A thin blocking facade over the async core, for scripts and synchronous callers.

``SyncRunner`` runs an event loop on a background thread; ``blocking(obj, runner)`` wraps a
``MediaKeysFactory``, ``MediaKeys``, ``KeySession`` or ``EventStream`` so that every coroutine
method blocks until done and returns wrapped core objects::

    with SyncRunner() as runner:
        factory = blocking(container.media_keys_factory(), runner)
        media_keys = factory.create_media_keys("org.w3.clearkey")
        session = media_keys.create_session()
        events = session.events()
        session.generate_request("keyids", init_data)
        request = events.next(timeout=5)

Listener methods still run on the runner's loop thread.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class SyncRunner:
    """An event loop on a daemon thread that runs coroutines for blocking callers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="drmkit-sync", daemon=True
        )
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coroutine`` on the loop and return its result (re-raising its exception)."""
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("a blocking call from the runner's own thread would deadlock")
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        """Stop the loop and join its thread."""
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
        if not self.loop.is_running():
            self.loop.close()

    def __enter__(self) -> SyncRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _wraps(value: object) -> bool:
    from drmkit.core.factory import MediaKeysFactory
    from drmkit.core.listeners import EventStream
    from drmkit.core.media_keys import MediaKeys
    from drmkit.core.session import KeySession

    return isinstance(value, MediaKeysFactory | MediaKeys | KeySession | EventStream)


class Blocking:
    """Blocking view of one core object: coroutine methods run on the runner and block."""

    __slots__ = ("_runner", "_target")

    def __init__(self, target: object, runner: SyncRunner) -> None:
        self._target = target
        self._runner = runner

    def __repr__(self) -> str:
        return f"<blocking {self._target!r}>"

    @property
    def target(self) -> object:
        """The wrapped async object."""
        return self._target

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return blocking(attribute, self._runner) if _wraps(attribute) else attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            if inspect.iscoroutine(result):
                result = self._runner.run(result)
            return blocking(result, self._runner) if _wraps(result) else result

        return call


def blocking(target: object, runner: SyncRunner) -> Any:
    """Return a blocking view of a core object (see the module docstring)."""
    return Blocking(target, runner)
