"""Routed hook calls cache their implementations, and see plugins registered later."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from drmkit.core import MediaKeys
from drmkit.sdk import hookimpl


class _Counting:
    """A cross-cutting wrapper registered after the routes were built."""

    def __init__(self) -> None:
        self.calls = 0

    @hookimpl(wrapper=True)
    def drm_get_version(self, system: Any) -> Generator[None, Any, Any]:
        self.calls += 1
        return (yield)


async def test_a_plugin_registered_later_is_called_then_dropped(media_keys: MediaKeys) -> None:
    pm = media_keys._factory._plugins.pm
    version = await media_keys.get_version()  # the cache is warm
    counting = _Counting()
    pm.register(counting, name="test.counting")
    try:
        assert await media_keys.get_version() == version
        assert counting.calls == 1
    finally:
        pm.unregister(counting)
    assert await media_keys.get_version() == version
    assert counting.calls == 1  # unregistered: no longer in the cached list
