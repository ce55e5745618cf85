"""Errors of the license server, each carrying its HTTP status and a stable error code."""

from __future__ import annotations

from typing import Any

from drmkit.errors import DrmkitError


class LicenseServerError(DrmkitError):
    """A request the license server refuses; rendered as ``{"error": {"code", "message", ...}}``.

    ``code`` is stable and meant for programs; ``message`` is for people; ``details`` are extra
    members of the error object (e.g. ``kids`` for unknown key ids).
    """

    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def to_json(self) -> dict[str, Any]:
        """Return the JSON body of the error response."""
        return {"error": {"code": self.code, "message": self.message, **self.details}}


def bad_request(message: str, **details: Any) -> LicenseServerError:
    """Return the error for a malformed request body (HTTP 400, code ``invalid_request``)."""
    return LicenseServerError(400, "invalid_request", message, **details)


def unknown_kids(kids_b64: list[str]) -> LicenseServerError:
    """Return the error for key ids the store does not hold (HTTP 404, code ``unknown_kids``)."""
    return LicenseServerError(
        404,
        "unknown_kids",
        f"no key is stored for {len(kids_b64)} of the requested key ids",
        kids=kids_b64,
    )
