"""The SRM's error codes: one table, shared by the HTTP API, the docs and the client.

Business denials (limit reached, content access denied) are HTTP 200 with ``status: DENIED``, as in
the reference API; everything else is an ``ERROR`` with the matching HTTP status. ``code`` on the
wire is always the HTTP status as a string.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from drmkit.errors import DrmkitError


@dataclass(frozen=True)
class ErrorSpec:
    """One row of the code table."""

    http_status: int
    status: str
    error_code: str
    message: str


class SrmErrorCode(enum.Enum):
    """Every error the SRM answers with; values are the wire fields."""

    UNKNOWN_RESOURCE = ErrorSpec(404, "ERROR", "SRM-0001", "Unknown resource")
    MALFORMED = ErrorSpec(
        400, "ERROR", "SRM-0002", "Malformed request or mandatory parameters missing from request"
    )
    UNAUTHENTICATED = ErrorSpec(401, "ERROR", "SRM-0003", "Missing or invalid Client-Token")
    CONTENT_DENIED = ErrorSpec(200, "DENIED", "SRM-0004", "Content Access Denied")
    METHOD_NOT_ALLOWED = ErrorSpec(405, "ERROR", "SRM-0005", "Method not allowed")
    LIMIT_REACHED = ErrorSpec(200, "DENIED", "SRM-0006", "Session Limit Reached")
    INTERNAL = ErrorSpec(500, "ERROR", "SRM-0007", "Internal error")
    SESSION_NOT_FOUND = ErrorSpec(404, "ERROR", "SRM-0008", "Session Not Found")
    BODY_TOO_LARGE = ErrorSpec(413, "ERROR", "SRM-0009", "Request body too large")
    STORE_UNAVAILABLE = ErrorSpec(503, "ERROR", "SRM-0010", "Session store unavailable")
    OPERATOR_UNAUTHENTICATED = ErrorSpec(
        401, "ERROR", "SRM-0011", "Missing or invalid operator credential"
    )
    OPERATOR_DISABLED = ErrorSpec(403, "ERROR", "SRM-0012", "Operator API disabled")
    UNSUPPORTED_MEDIA_TYPE = ErrorSpec(
        415, "ERROR", "SRM-0013", "Request body must be JSON (application/json or no Content-Type)"
    )
    OTHER_DEVICE = ErrorSpec(403, "ERROR", "SRM-0014", "Session belongs to another device")

    @property
    def spec(self) -> ErrorSpec:
        """The row of this code."""
        return self.value

    def body(self, message: str | None = None) -> dict[str, dict[str, str]]:
        """Return the wire body ``{"errorResponse": {...}}`` for this code."""
        spec = self.value
        return {
            "errorResponse": {
                "code": str(spec.http_status),
                "status": spec.status,
                "errorCode": spec.error_code,
                "errorMessage": message or spec.message,
            }
        }


class SrmProblem(DrmkitError):
    """Raised inside the SRM service; the HTTP layer turns it into an ``errorResponse``."""

    def __init__(self, code: SrmErrorCode, message: str | None = None) -> None:
        super().__init__(message or code.spec.message)
        self.code = code
        self.message = message or code.spec.message


class OtherDeviceError(DrmkitError):
    """A store found the live session, but it was set up by another device of the account."""


class StoreUnavailableError(DrmkitError):
    """The session store could not be reached or did not answer in time (fail closed)."""
