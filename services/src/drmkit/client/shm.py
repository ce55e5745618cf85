"""The client's view of its shared memory: the mapping and a first-fit range allocator."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from collections.abc import AsyncIterator

from drmkit.ipc.shm import SharedRegion

_ALIGN = 64


class ClientSharedMemory:
    """A mapped region with disjoint ranges handed to concurrent decrypts."""

    def __init__(self, region: SharedRegion) -> None:
        self.region = region
        self.size = region.size
        self._used: list[tuple[int, int]] = []  # sorted (start, end)
        self._freed = asyncio.Condition()
        self.stale = False

    def _find(self, length: int) -> int | None:
        position = 0
        for start, end in self._used:
            if start - position >= length:
                return position
            position = end
        return position if self.size - position >= length else None

    @contextlib.asynccontextmanager
    async def allocate(self, length: int) -> AsyncIterator[int]:
        """Hold ``length`` bytes of the region; yields their offset (waits while it is full)."""
        rounded = max(_ALIGN, (length + _ALIGN - 1) // _ALIGN * _ALIGN)
        async with self._freed:
            offset = self._find(rounded)
            while offset is None:
                await self._freed.wait()
                offset = self._find(rounded)
            bisect.insort(self._used, (offset, offset + rounded))
        try:
            yield offset
        finally:
            async with self._freed:
                self._used.remove((offset, offset + rounded))
                self._freed.notify_all()
            if self.stale and not self._used:
                self.region.try_close()

    def retire(self) -> None:
        """Stop using the region (the server dropped its side); unmap once idle."""
        self.stale = True
        if not self._used:
            self.region.try_close()
