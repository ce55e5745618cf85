"""The license server's ASGI application (Starlette).

Routes:

- ``GET /healthz``: liveness and key-store reachability (never needs the token).
- ``GET /metrics``: Prometheus metrics (never needs the token).
- ``POST /clearkey/license``: W3C Clear Key license request -> JWK set.
- ``POST /clearkey/release``: Clear Key license release -> acknowledgement.
- one ``POST`` route per test-license endpoint the key-system plugins declare (hook
  ``drm_test_license_endpoints``; ``drmkit.license_server.simulated``), e.g. the reference CDM's
  ``/refcdm/widevine/license``.

Every error is JSON ``{"error": {"code": ..., "message": ...}}`` with a fitting status.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from drmkit.license_server import clearkey
from drmkit.license_server.config import LicenseServerSettings
from drmkit.license_server.cors import CorsGuard
from drmkit.license_server.errors import LicenseServerError, bad_request
from drmkit.license_server.store import KeyStore, KeyStoreError
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from drmkit.sdk.test_license import TestLicenseEndpoint

logger = logging.getLogger(__name__)

JSON_MEDIA_TYPE = "application/json"


@dataclass(frozen=True, slots=True)
class IssuedResponse:
    """What an endpoint handler returns: the body, its media type and the key ids it covered."""

    body: bytes
    media_type: str
    kids: tuple[bytes, ...]


#: A handler takes the request body and the key store and returns the response; it runs in a
#: worker thread (the store is blocking SQLite) and raises ``LicenseServerError`` to refuse.
EndpointHandler = Callable[[bytes, KeyStore], IssuedResponse]


@dataclass(frozen=True, slots=True)
class LicenseEndpoint:
    """One ``POST`` route of the license server."""

    path: str
    key_system: str
    operation: str
    handler: EndpointHandler


def _json_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def _clearkey_license(body: bytes, store: KeyStore) -> IssuedResponse:
    request = clearkey.parse_license_request(body)
    license_ = clearkey.issue_license(request, store)
    return IssuedResponse(_json_bytes(license_), JSON_MEDIA_TYPE, request.kids)


def _clearkey_release(body: bytes, store: KeyStore) -> IssuedResponse:
    kids = clearkey.parse_release_request(body)
    return IssuedResponse(_json_bytes(clearkey.acknowledge_release(kids)), JSON_MEDIA_TYPE, kids)


CLEARKEY_ENDPOINTS: tuple[LicenseEndpoint, ...] = (
    LicenseEndpoint("/clearkey/license", clearkey.KEY_SYSTEM, "license", _clearkey_license),
    LicenseEndpoint("/clearkey/release", clearkey.KEY_SYSTEM, "release", _clearkey_release),
)


# Paths of the application's own routes, which no endpoint may take.
_OWN_PATHS = frozenset({"/healthz", "/metrics"})


def license_endpoints(
    test_endpoints: Iterable[TestLicenseEndpoint] = (),
) -> tuple[LicenseEndpoint, ...]:
    """Return the license routes: Clear Key's, then one per plugin-declared test endpoint.

    :raises ValueError: two routes at one path (or one at ``/healthz`` or ``/metrics``).
    """
    from drmkit.license_server.simulated import license_route  # it imports this module

    endpoints = CLEARKEY_ENDPOINTS + tuple(license_route(e) for e in test_endpoints)
    taken = set(_OWN_PATHS)
    for endpoint in endpoints:
        if endpoint.path in taken:
            raise ValueError(f"two license server routes at {endpoint.path}")
        taken.add(endpoint.path)
    return endpoints


class _Metrics:
    """The license server's Prometheus metrics, in a registry of their own."""

    def __init__(self, registry: CollectorRegistry, endpoints: Sequence[LicenseEndpoint]) -> None:
        self.registry = registry
        self.requests = Counter(
            "drmkit_license_requests",
            "License server requests by key system, operation and outcome.",
            ["key_system", "operation", "outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            "drmkit_license_request_duration_seconds",
            "Time to answer a license server request.",
            ["key_system", "operation"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=registry,
        )
        for endpoint in endpoints:
            self.requests.labels(endpoint.key_system, endpoint.operation, "ok")
            self.duration.labels(endpoint.key_system, endpoint.operation)


async def read_limited_body(request: Request, limit: int) -> bytes:
    """Read the request body, refusing more than ``limit`` bytes (HTTP 413).

    ``Content-Length`` is checked first so an honest oversized request is refused without reading
    it; the streamed size is checked as well, for chunked bodies and lying headers.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise bad_request(f"invalid Content-Length {declared[:32]!r}")
        if int(declared) > limit:
            raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


def _too_large(limit: int) -> LicenseServerError:
    return LicenseServerError(
        413, "payload_too_large", f"the request body exceeds {limit} bytes", limit=limit
    )


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()


class _BearerAuth:
    """Checks ``Authorization: Bearer <token>`` in constant time when a token is configured."""

    def __init__(self, token: str | None) -> None:
        self._token = _digest(token) if token else None

    @property
    def enabled(self) -> bool:
        return self._token is not None

    def check(self, request: Request) -> None:
        if self._token is None:
            return
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        # Digests of equal length, compared in constant time, reveal neither where the values
        # differ nor the token's length; the comparison runs even when the scheme is wrong.
        matches = hmac.compare_digest(_digest(presented.strip()), self._token)
        if scheme.lower() != "bearer" or not matches:
            raise LicenseServerError(401, "unauthorized", "a valid bearer token is required")


def create_app(
    store: KeyStore,
    settings: LicenseServerSettings,
    *,
    test_endpoints: Iterable[TestLicenseEndpoint] = (),
    endpoints: Sequence[LicenseEndpoint] | None = None,
    registry: CollectorRegistry | None = None,
) -> Starlette:
    """Build the license server application over ``store``.

    ``test_endpoints`` are the test-license routes the key-system plugins declare (the container
    passes those of every installed plugin: ``DrmPluginManager.test_license_endpoints``);
    ``endpoints``, when given, replaces the whole list of routes (default:
    :func:`license_endpoints` of ``test_endpoints``). ``registry`` (a fresh one by default)
    receives the metrics.
    """
    declared = tuple(test_endpoints)
    if endpoints is not None and declared:
        raise ValueError("give test_endpoints or endpoints, not both")
    chosen = tuple(endpoints) if endpoints is not None else license_endpoints(declared)
    metrics = _Metrics(registry or CollectorRegistry(), chosen)
    token = settings.token.get_secret_value() if settings.token is not None else None
    auth = _BearerAuth(token)
    limit = settings.max_body_bytes

    def make_route(endpoint: LicenseEndpoint) -> Route:
        async def handle(request: Request) -> Response:
            started = time.perf_counter()
            outcome = "error"
            try:
                auth.check(request)
                body = await read_limited_body(request, limit)
                issued = await asyncio.to_thread(endpoint.handler, body, store)
                outcome = "ok"
            except LicenseServerError as exc:
                outcome = exc.code
                raise
            except ClientDisconnect:
                # The client went away mid-body: nobody is left to answer; not a server error.
                outcome = "client_disconnect"
                return Response(status_code=400)
            except KeyStoreError:
                outcome = "key_store_unavailable"
                raise
            except Exception as exc:
                # Answered here rather than by an app-level handler: Starlette re-raises from its
                # server-error middleware, which makes uvicorn drop the keep-alive connection.
                outcome = "internal_error"
                return internal_error(exc)
            finally:
                metrics.requests.labels(endpoint.key_system, endpoint.operation, outcome).inc()
                metrics.duration.labels(endpoint.key_system, endpoint.operation).observe(
                    time.perf_counter() - started
                )
                logger.info(
                    "license request",
                    extra={
                        "key_system": endpoint.key_system,
                        "operation": endpoint.operation,
                        "outcome": outcome,
                    },
                )
            return Response(issued.body, media_type=issued.media_type)

        return Route(endpoint.path, handle, methods=["POST"], name=endpoint.path)

    async def healthz(request: Request) -> Response:
        try:
            count = await asyncio.to_thread(len, store)
        except KeyStoreError as exc:
            return JSONResponse(
                {
                    "status": "unavailable",
                    "error": {"code": "key_store_unavailable", "message": str(exc)},
                },
                status_code=503,
            )
        return JSONResponse({"status": "ok", "keys": count})

    async def metrics_endpoint(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def on_license_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LicenseServerError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.to_json(), status_code=exc.status, headers=headers)

    async def on_store_error(request: Request, exc: Exception) -> Response:
        logger.error("key store failure: %s", exc)
        error = LicenseServerError(503, "key_store_unavailable", str(exc))
        return JSONResponse(error.to_json(), status_code=503)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        error = LicenseServerError(exc.status_code, code, str(exc.detail))
        return JSONResponse(error.to_json(), status_code=exc.status_code, headers=exc.headers)

    def internal_error(exc: BaseException) -> Response:
        logger.error("unexpected license server failure", exc_info=exc)
        error = LicenseServerError(500, "internal_error", "internal server error")
        return JSONResponse(error.to_json(), status_code=500)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        return internal_error(exc)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        *(make_route(endpoint) for endpoint in chosen),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            LicenseServerError: on_license_error,
            KeyStoreError: on_store_error,
            HTTPException: on_http_error,
            Exception: on_unexpected,
        },
    )
    app.state.store = store
    app.state.endpoints = chosen
    app.state.auth_enabled = auth.enabled
    app.add_middleware(CorsGuard, origins=settings.cors_origins, registry=metrics.registry)
    return app
