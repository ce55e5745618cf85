"""Run a session server until SIGTERM/SIGINT (what ``drmkit serve`` does)."""

from __future__ import annotations

import asyncio
import signal

import structlog
from drmkit.server.app import SessionServer

log = structlog.get_logger(__name__)


async def serve_until_signalled(server: SessionServer) -> None:
    """Start ``server`` and stop it cleanly on SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await server.start()
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        await server.shutdown()
