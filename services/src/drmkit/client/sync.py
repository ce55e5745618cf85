"""The synchronous facade of :mod:`drmkit.client`: the same API, blocking, for code without asyncio.

The async client runs on a private event loop in a background thread; each blocking call submits
the coroutine to it and waits. Listener methods are called on that thread. Event iterators become
blocking ``next_event(timeout)`` calls.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from drmkit.client.client import DEFAULT_CALL_TIMEOUT_S, MediaKeysClient
from drmkit.client.media_keys import RemoteMediaKeys
from drmkit.client.session import RemoteKeySession
from drmkit.core.listeners import EventStream
from drmkit.events import KeySessionEvent, MediaKeysListener
from drmkit.types import KeySessionType

T = TypeVar("T")


class _LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="drmkit-client", daemon=True
        )
        self._thread.start()

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()


class _Proxy:
    """Forwards attribute reads to the async object; coroutine methods become blocking."""

    def __init__(self, runner: _LoopThread, target: object) -> None:
        self._runner = runner
        self._target = target

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            outcome = asyncio.run_coroutine_threadsafe(
                _maybe_await(value, args, kwargs), self._runner.loop
            )
            return outcome.result()

        return call


async def _maybe_await(function: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = function(*args, **kwargs)
    if asyncio.iscoroutine(result):
        return await result
    return result


class SyncKeySession(_Proxy):
    """A :class:`RemoteKeySession` with blocking methods (``generate_request``, ``update``...)."""

    def __init__(self, runner: _LoopThread, session: RemoteKeySession) -> None:
        super().__init__(runner, session)
        self.session = session
        self.id = session.id
        self._stream: EventStream = runner.run(_create_stream(session))

    def next_event(self, timeout: float = 5.0) -> KeySessionEvent:
        """Block for the next event of the session (``TimeoutError`` after ``timeout``)."""
        return self._runner.run(self._stream.next(timeout))


async def _create_stream(session: RemoteKeySession) -> EventStream:
    return session.events()


class SyncMediaKeys(_Proxy):
    """A :class:`RemoteMediaKeys` with blocking methods."""

    def __init__(self, runner: _LoopThread, media_keys: RemoteMediaKeys) -> None:
        super().__init__(runner, media_keys)
        self.media_keys = media_keys

    def create_session(
        self,
        session_type: KeySessionType = KeySessionType.TEMPORARY,
        listener: MediaKeysListener | None = None,
    ) -> SyncKeySession:
        """Create a key session (events also queue for :meth:`SyncKeySession.next_event`)."""
        session = self._runner.run(self.media_keys.create_session(session_type, listener))
        return SyncKeySession(self._runner, session)


class SyncMediaKeysClient(_Proxy):
    """A :class:`MediaKeysClient` with blocking methods; ``close()`` it when done."""

    def __init__(
        self,
        socket_path: str | Path,
        *,
        call_timeout: float = DEFAULT_CALL_TIMEOUT_S,
        control_socket_path: str | Path | None = None,
    ) -> None:
        runner = _LoopThread()
        try:
            client = runner.run(
                MediaKeysClient.connect(
                    socket_path, call_timeout=call_timeout, control_socket_path=control_socket_path
                )
            )
        except BaseException:
            runner.stop()
            raise
        super().__init__(runner, client)
        self.client = client

    def create_media_keys(self, key_system: str) -> SyncMediaKeys:
        """Create a MediaKeys."""
        return SyncMediaKeys(
            self._runner, self._runner.run(self.client.create_media_keys(key_system))
        )

    def close(self) -> None:
        """Close the connection and stop the background loop."""
        try:
            self._runner.run(self.client.close())
        finally:
            self._runner.stop()

    def __enter__(self) -> SyncMediaKeysClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
