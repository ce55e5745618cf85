"""Session resource manager throughput: setups + teardowns per second, with admission checked.

Real ``drmkit srm serve`` processes over each store (SQLite file, Redis, PostgreSQL started from
the system packages on private ports), driven by an async HTTP load generator in this process:
``WORKERS`` workers loop setup -> teardown over ``ACCOUNTS`` accounts with a limit of ``LIMIT``
(more workers per account than the limit, so denials happen and the admission step is contended).

Printed per configuration: completed setup+teardown pairs per second, requests per second,
denials, and the ratio against the one-node SQLite baseline of the same run; for Redis also the
two-node/one-node ratio (two serve processes sharing one Redis; on a 2-core machine they share
the CPU with the load generator, so expect well below 2).

Admission is checked exactly during the run: each granted session is certainly held from the
moment its setup answer arrived until its teardown was sent; at no instant may more than
``LIMIT`` such intervals of one account overlap. After each run every account must hold 0 live
sessions, and a burst of ``2 * LIMIT`` setups per account must grant exactly ``LIMIT``.

Run: ``uv run python bench/srm.py`` (about 45 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from drmkit.srm.auth import TokenTableVerifier
from drmkit.srm.devservers import PostgresServer, RedisServer, free_port
from drmkit.srm.stores import open_store
from drmkit.srm.stores.base import Identity

ACCOUNTS = 16
LIMIT = 2
WORKERS = 48
MEASURE_SECONDS = 3.0
BODY = {"content": {"contentID": "100001V3D", "contentType": "COD"}}


@dataclass
class RunResult:
    pairs: int = 0
    requests: int = 0
    denials: int = 0
    errors: int = 0
    seconds: float = 0.0
    held: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))

    @property
    def pairs_per_s(self) -> float:
        return self.pairs / self.seconds

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds


def start_node(store_url: str, state_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRMKIT_")}
    env.update(
        {
            "DRMKIT_STATE_DIR": str(state_dir),
            "DRMKIT_SRM__STORE_URL": store_url,
            "DRMKIT_SRM__DEFAULT_LIMIT": str(LIMIT),
            "DRMKIT_SRM__STORE_POOL_SIZE": "16",
        }
    )
    exe = Path(sys.executable).parent / "drmkit"
    process = subprocess.Popen(
        [str(exe) if exe.exists() else "drmkit", "srm", "serve", "--port", str(port)],
        env=env,
        cwd=state_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"srm serve exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return process, f"http://127.0.0.1:{port}"
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("srm serve did not start")


async def issue_tokens(store_url: str, run_id: str) -> dict[str, str]:
    store = open_store(store_url)
    await store.open()
    try:
        verifier = TokenTableVerifier(store)
        return {
            f"{run_id}-acct-{i}": await verifier.issue(Identity(f"{run_id}-acct-{i}", "bench"))
            for i in range(ACCOUNTS)
        }
    finally:
        await store.close()


class Connection:
    """A minimal HTTP/1.1 keep-alive client connection.

    Hand-written on purpose: on a small machine an httpx client costs more CPU per request than
    the SRM itself, and the load generator must not be what is measured.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, token: str, body: bytes = b""
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nClient-Token: {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        payload = await self.reader.readexactly(length) if length else b""
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def drive(urls: list[str], tokens: dict[str, str]) -> RunResult:
    result = RunResult()
    accounts = list(tokens)
    body = json.dumps(BODY).encode()

    async def worker(index: int, stop_at: float, result: RunResult) -> None:
        account = accounts[index % len(accounts)]
        host_port = urls[index % len(urls)].removeprefix("http://")
        host, port = host_port.split(":")
        token = tokens[account]
        conn = Connection(host, int(port))
        try:
            while time.monotonic() < stop_at:
                status, payload = await conn.request("POST", "/srm/v1/sessions", token, body)
                granted_at = time.monotonic()
                result.requests += 1
                answer = json.loads(payload)
                if "successResponse" not in answer:
                    if answer.get("errorResponse", {}).get("errorCode") == "SRM-0006":
                        result.denials += 1
                    else:
                        result.errors += 1
                    continue
                sid = answer["successResponse"]["sessionId"]
                released_from = time.monotonic()
                status, _ = await conn.request("DELETE", f"/srm/v1/sessions/{sid}", token)
                result.requests += 1
                if status != 200:
                    result.errors += 1
                    continue
                result.held[account].append((granted_at, released_from))
                result.pairs += 1
        finally:
            conn.close()

    # Warm up the servers' code paths, then measure.
    warm = RunResult()
    await asyncio.gather(*(worker(i, time.monotonic() + 0.5, warm) for i in range(WORKERS)))
    started = time.monotonic()
    await asyncio.gather(*(worker(i, started + MEASURE_SECONDS, result) for i in range(WORKERS)))
    result.seconds = time.monotonic() - started
    return result


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    current = peak = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


async def check_exact(store_url: str, urls: list[str], tokens: dict[str, str]) -> None:
    store = open_store(store_url)
    await store.open()
    try:
        for account in tokens:
            live = await store.count_live(account)
            assert live == 0, f"{account}: {live} sessions left after the run"
    finally:
        await store.close()
    async with httpx.AsyncClient(timeout=10) as http:
        for account, token in tokens.items():
            responses = await asyncio.gather(
                *(
                    http.post(
                        f"{urls[i % len(urls)]}/srm/v1/sessions",
                        json=BODY,
                        headers={"Client-Token": token},
                    )
                    for i in range(2 * LIMIT)
                )
            )
            granted = [
                r.json()["successResponse"]["sessionId"]
                for r in responses
                if "successResponse" in r.json()
            ]
            assert len(granted) == LIMIT, f"{account}: burst granted {len(granted)} != {LIMIT}"
            for sid in granted:
                await http.delete(
                    f"{urls[0]}/srm/v1/sessions/{sid}", headers={"Client-Token": token}
                )


def run_config(name: str, store_url: str, nodes: int, state_dir: Path) -> RunResult:
    tokens = asyncio.run(issue_tokens(store_url, name.replace(" ", "-")))
    started = [start_node(store_url, state_dir) for _ in range(nodes)]
    try:
        urls = [url for _, url in started]
        result = asyncio.run(drive(urls, tokens))
        for account, intervals in result.held.items():
            peak = max_overlap(intervals)
            assert peak <= LIMIT, f"{name}: {account} held {peak} > {LIMIT} sessions at once"
        asyncio.run(check_exact(store_url, urls, tokens))
    finally:
        for process, _ in started:
            process.terminate()
            process.wait(10)
    assert result.errors == 0, f"{name}: {result.errors} unexpected answers"
    return result


def main() -> None:
    state_dir = Path(tempfile.mkdtemp(prefix="drmkit-bench-srm-"))
    redis = RedisServer()
    postgres = PostgresServer()
    redis.start()
    postgres.start()
    try:
        configs = [
            ("sqlite 1 node", f"sqlite:///{state_dir / 'srm.sqlite3'}", 1),
            ("redis 1 node", redis.url, 1),
            ("redis 2 nodes", redis.url, 2),
            ("postgres 1 node", postgres.url, 1),
        ]
        results = {name: run_config(name, url, n, state_dir) for name, url, n in configs}
    finally:
        redis.close()
        postgres.close()
    baseline = results["sqlite 1 node"].pairs_per_s
    print(
        f"SRM setup+teardown throughput ({WORKERS} workers, {ACCOUNTS} accounts, limit {LIMIT}, "
        f"{MEASURE_SECONDS:.0f} s each; admission checked exactly)"
    )
    print(f"{'configuration':<18}{'pairs/s':>10}{'req/s':>10}{'denials':>10}{'vs sqlite':>11}")
    for name, r in results.items():
        print(
            f"{name:<18}{r.pairs_per_s:>10.0f}{r.requests_per_s:>10.0f}{r.denials:>10}"
            f"{r.pairs_per_s / baseline:>11.2f}"
        )
    ratio = results["redis 2 nodes"].pairs_per_s / results["redis 1 node"].pairs_per_s
    print(f"redis two nodes / one node: {ratio:.2f} (cores: {os.cpu_count()})")


if __name__ == "__main__":
    main()
