"""Health probe: proves the event loop and every MediaKeys' and key session's worker respond.

A ping submits a no-op to each serial executor (of each MediaKeys and each key session) and waits
for all of them with a deadline; a worker stuck in a CDM call shows up as unresponsive by id.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drmkit.core.executor import SerialExecutor
    from drmkit.core.factory import MediaKeysFactory


def _noop() -> None:
    return None


def _executors(factory: MediaKeysFactory) -> list[tuple[str, SerialExecutor]]:
    # The core keeps its executors private; the probe only ever submits a no-op to them.
    found: list[tuple[str, SerialExecutor]] = []
    for media_keys in factory.media_keys:
        found.append((f"media_keys:{media_keys.handle}", media_keys._executor))
        for session_id in media_keys.session_ids:
            session = media_keys.get_session(session_id)
            found.append((f"key_session:{session_id}", session._executor))
    return found


async def probe_workers(factory: MediaKeysFactory, timeout_s: float) -> dict[str, Any]:
    """Return ``{"ok", "workers", "unresponsive", "elapsed_ms"}`` after at most ``timeout_s``."""
    started = time.perf_counter()
    await asyncio.sleep(0)  # the loop itself turns
    probes = {name: executor.submit(_noop) for name, executor in _executors(factory)}
    if probes:
        await asyncio.wait(list(probes.values()), timeout=timeout_s)
    unresponsive = sorted(name for name, future in probes.items() if not future.done())
    for future in probes.values():
        future.cancel()
    return {
        "ok": not unresponsive,
        "workers": len(probes),
        "unresponsive": unresponsive,
        "elapsed_ms": round((time.perf_counter() - started) * 1000, 3),
    }
