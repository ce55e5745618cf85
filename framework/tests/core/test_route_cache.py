"""Routed hook calls see cross-cutting plugins registered later, and drop them when unregistered."""

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
    plugins = media_keys._factory._plugins
    version = await media_keys.get_version()  # the route has been called before
    counting = _Counting()
    plugins.register_plugin(counting, "test.counting")
    try:
        assert await media_keys.get_version() == version
        assert counting.calls == 1
    finally:
        plugins.unregister_plugin("test.counting")
    assert await media_keys.get_version() == version
    assert counting.calls == 1  # unregistered: no longer called
