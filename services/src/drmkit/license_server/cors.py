"""Cross-origin access for browser players (CORS) on the license server.

Browsers send ``Origin`` with every cross-origin request and a preflight ``OPTIONS`` before a
license ``POST`` with ``Authorization`` or a non-form ``Content-Type``. Starlette's
``CORSMiddleware`` answers preflights and adds the response headers for allowed origins; in front
of it, :class:`CorsGuard` refuses a request from an origin that is not allowed with 403
``cors_origin_refused`` instead of processing it (the browser would hide the answer anyway, but the
license would have been issued), counts it and logs it. Requests without ``Origin`` (players
outside browsers, curl) are not cross-origin requests and pass untouched. No origin is allowed by
default.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from drmkit.license_server.errors import LicenseServerError
from prometheus_client import CollectorRegistry, Counter
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

logger = logging.getLogger(__name__)

ALLOW_ANY = "*"
"""The ``cors_origins`` entry that allows every origin (a public test server only)."""

ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")
"""``scheme://host[:port]`` as browsers send it: no path, no trailing slash."""

ALLOWED_METHODS = ("GET", "POST")
ALLOWED_HEADERS = ("Authorization", "Content-Type")
PREFLIGHT_MAX_AGE_S = 600


def check_origin(origin: str) -> str:
    """Return ``origin`` if it is ``*`` or ``scheme://host[:port]``, else raise ``ValueError``."""
    if origin == ALLOW_ANY or ORIGIN.fullmatch(origin):
        return origin
    raise ValueError(
        f"{origin!r} is not an origin: give scheme://host[:port] without a path"
        f" (e.g. https://player.example:8443), or {ALLOW_ANY!r} for any origin"
    )


class CorsGuard:
    """ASGI middleware: refuse cross-origin requests from origins not allowed, then apply CORS."""

    def __init__(self, app: ASGIApp, origins: Sequence[str], registry: CollectorRegistry) -> None:
        self.allow_any = ALLOW_ANY in origins
        self.origins = frozenset(origins)
        self.refused = Counter(
            "drmkit_license_cors_refused",
            "Cross-origin requests refused because their origin is not in cors_origins.",
            registry=registry,
        )
        self.app = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=list(ALLOWED_METHODS),
            allow_headers=list(ALLOWED_HEADERS),
            max_age=PREFLIGHT_MAX_AGE_S,
        )

    def allows(self, origin: str) -> bool:
        """Tell whether a page on ``origin`` may call the license server."""
        return self.allow_any or origin in self.origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 403 for an origin not allowed; hand anything else to the CORS middleware."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = _header(scope, b"origin")
        if origin is None or self.allows(origin):
            await self.app(scope, receive, send)
            return
        self.refused.inc()
        logger.warning(
            "cross-origin request refused",
            extra={"origin": origin[:200], "method": scope["method"], "path": scope["path"]},
        )
        error = LicenseServerError(
            403,
            "cors_origin_refused",
            f"origin {origin[:200]!r} is not allowed (license_server.cors_origins)",
        )
        response = JSONResponse(error.to_json(), status_code=403, headers={"Vary": "Origin"})
        await response(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    """Return the first value of header ``name`` (lower case), decoded as Latin-1."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None
