"""License server benchmark: Clear Key license latency against the loopback transport floor.

Both are measured in this run on this machine:

- **license**: sequential ``POST /clearkey/license`` requests (one key id, keep-alive, httpx)
  against drmkit's license server on its own thread (uvicorn, SQLite key store);
- **floor**: the same client and request size against a minimal asyncio HTTP responder on the
  same kind of socket and thread, returning a fixed body of the license's size.

The ratio (license / floor) is drmkit's cost per request on top of HTTP over loopback (parsing,
the thread hop, the SQLite lookup, metrics, logging). A Nagle / delayed-ACK stall shows up as a
ratio far above 10.

Run: ``uv run python bench/license_server.py [--requests 2000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
from drmkit.license_server import KeyStore, LicenseServerThread, create_app
from drmkit.license_server.config import LicenseServerSettings
from drmkit.license_server.keyids import b64url_encode


def measure(client: httpx.Client, path: str, body: bytes, count: int) -> list[float]:
    for _ in range(min(100, count)):  # warm-up: connection, caches
        client.post(path, content=body)
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.post(path, content=body)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return samples


class FloorServer:
    """A minimal HTTP/1.1 keep-alive responder on asyncio, TCP_NODELAY, on its own thread."""

    def __init__(self, response_body: bytes) -> None:
        self._body = response_body
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(self._body)}\r\n\r\n".encode()
        )
        try:
            while True:
                header = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in header.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                writer.write(head + self._body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0, family=socket.AF_INET)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> FloorServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    async def _shutdown(self) -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loop.stop()

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        self._thread.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()

    kid, key = os.urandom(16), os.urandom(16)
    body = f'{{"kids":["{b64url_encode(kid)}"],"type":"temporary"}}'.encode()
    with tempfile.TemporaryDirectory() as tmp:
        store = KeyStore(Path(tmp) / "keys.sqlite3")
        store.add(kid, key)
        app = create_app(store, LicenseServerSettings())
        with LicenseServerThread(app) as server, httpx.Client(base_url=server.url) as client:
            license_body = client.post("/clearkey/license", content=body).content
            license_times = measure(client, "/clearkey/license", body, args.requests)
        with (
            FloorServer(license_body) as floor,
            httpx.Client(base_url=f"http://127.0.0.1:{floor.port}") as client,
        ):
            floor_times = measure(client, "/", body, args.requests)

    def describe(name: str, samples: list[float]) -> float:
        median = statistics.median(samples)
        p99 = statistics.quantiles(samples, n=100)[98]
        print(f"{name:<8} median {median * 1e3:7.3f} ms   p99 {p99 * 1e3:7.3f} ms   "
              f"{1 / statistics.fmean(samples):8.0f} req/s")  # fmt: skip
        return median

    license_median = describe("license", license_times)
    floor_median = describe("floor", floor_times)
    print(f"ratio license/floor (median latency): {license_median / floor_median:.2f}")


if __name__ == "__main__":
    main()
