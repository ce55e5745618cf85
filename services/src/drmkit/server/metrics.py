"""Prometheus metrics of the session server and their endpoint (loopback TCP or Unix socket).

The endpoint is a few lines of asyncio rather than ``prometheus_client.start_http_server``:
that one only listens on TCP (in its own thread), and the server must also offer a Unix socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
from pathlib import Path

from drmkit.errors import DrmkitError
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class ServerMetrics:
    """The session server's metrics, registered in ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.connections = Gauge(
            "drmkit_server_connections", "Open client connections", ["role"], registry=registry
        )
        self.requests = Counter(
            "drmkit_server_requests",
            "JSON-RPC requests by method and outcome",
            ["method", "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "drmkit_server_request_seconds",
            "Time to answer a request",
            ["method"],
            buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5),
            registry=registry,
        )
        self.notifications = Counter(
            "drmkit_server_notifications", "Notifications sent", ["method"], registry=registry
        )
        self.protocol_errors = Counter(
            "drmkit_server_protocol_errors",
            "Frames or envelopes that were not valid JSON-RPC",
            ["kind"],
            registry=registry,
        )
        self.media_keys = Gauge("drmkit_server_media_keys", "MediaKeys open", registry=registry)
        self.key_sessions = Gauge(
            "drmkit_server_key_sessions", "Key sessions open", registry=registry
        )
        self.shm_regions = Gauge(
            "drmkit_server_shared_memory_regions", "Mapped shared-memory regions", registry=registry
        )
        self.decrypted_bytes = Counter(
            "drmkit_server_decrypted_bytes", "Bytes decrypted", ["path"], registry=registry
        )
        self._request_children: dict[tuple[str, str], Counter] = {}
        self._latency_children: dict[str, Histogram] = {}
        self.active = Gauge(
            "drmkit_server_active", "1 while the application is Active", registry=registry
        )

    def observe_request(self, method: str, outcome: str, seconds: float) -> None:
        """Count one answered request and its latency (label children are cached)."""
        key = (method, outcome)
        counter = self._request_children.get(key)
        if counter is None:
            counter = self._request_children[key] = self.requests.labels(method, outcome)
        counter.inc()
        histogram = self._latency_children.get(method)
        if histogram is None:
            histogram = self._latency_children[method] = self.latency.labels(method)
        histogram.observe(seconds)


class MetricsEndpointError(DrmkitError):
    """The metrics address is malformed or not allowed."""


def parse_metrics_address(address: str) -> tuple[str, int] | Path:
    """Return ``(host, port)`` for ``HOST:PORT`` (loopback only) or a path for ``unix:PATH``."""
    if address.startswith("unix:"):
        path = address[len("unix:") :]
        if not path:
            raise MetricsEndpointError("unix: needs a path")
        return Path(path)
    host, sep, port_text = address.rpartition(":")
    if not sep or not port_text.isdigit():
        raise MetricsEndpointError(f"metrics address {address!r} is not HOST:PORT or unix:PATH")
    host = host.strip("[]")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise MetricsEndpointError(f"metrics listen only on loopback, not {host!r}")
    return host, int(port_text)


async def _answer(
    registry: CollectorRegistry, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        request_line = await asyncio.wait_for(reader.readline(), 5)
        while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
            pass
        parts = request_line.split()
        if (
            len(parts) >= 2
            and parts[0] == b"GET"
            and parts[1].split(b"?")[0] in (b"/", b"/metrics")
        ):
            body = generate_latest(registry)
            status = b"200 OK"
            content_type = CONTENT_TYPE_LATEST.encode()
        else:
            body, status, content_type = b"not found\n", b"404 Not Found", b"text/plain"
        writer.write(
            b"HTTP/1.1 "
            + status
            + b"\r\nContent-Type: "
            + content_type
            + b"\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\nConnection: close\r\n\r\n"
            + body
        )
        await writer.drain()
    except (TimeoutError, ConnectionError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def start_metrics_endpoint(registry: CollectorRegistry, address: str) -> asyncio.Server:
    """Serve ``GET /metrics`` on ``address`` (see :func:`parse_metrics_address`)."""
    target = parse_metrics_address(address)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _answer(registry, reader, writer)

    if isinstance(target, Path):
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        server = await asyncio.start_unix_server(handle, path=str(target))
        os.chmod(target, 0o600)
        return server
    host, port = target
    return await asyncio.start_server(handle, host=host, port=port)
