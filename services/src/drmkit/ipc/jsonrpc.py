"""JSON-RPC 2.0 envelopes: parsing with precise errors, building replies, notifications.

Batches are not supported (a batch is answered with ``INVALID_REQUEST``): every call of the MKS
API is one request, and one request per frame keeps per-connection backpressure simple.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from drmkit.errors import DrmkitError

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_UNAVAILABLE = -32000
"""The server is shutting down or the request was cut off (server-defined range)."""

MKS_ERROR_BASE = 1000
"""An MKS status error has code ``1000 + status`` (``1002``: ``BAD_SESSION_ID``)."""

RequestId = int | str


class RpcError(DrmkitError):
    """A JSON-RPC error object: raise it from a handler, or receive it from a call."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{message} (JSON-RPC error {code})")
        self.code = code
        self.message = message
        self.data = data

    def as_object(self) -> dict[str, Any]:
        """Return the JSON-RPC ``error`` member."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


@dataclass(frozen=True, slots=True)
class Request:
    """A call (``id`` set) or a notification (``id`` is ``None``)."""

    method: str
    params: dict[str, Any]
    id: RequestId | None

    @property
    def is_notification(self) -> bool:
        """``True`` when no reply is expected."""
        return self.id is None


@dataclass(frozen=True, slots=True)
class Response:
    """A reply: ``error`` is set for a failed call, ``result`` otherwise."""

    id: RequestId | None
    result: Any = None
    error: RpcError | None = None


def _dumps(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def encode_request(request_id: RequestId, method: str, params: dict[str, Any]) -> bytes:
    """Return a request payload."""
    return _dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})


def encode_notification(method: str, params: dict[str, Any]) -> bytes:
    """Return a notification payload."""
    return _dumps({"jsonrpc": "2.0", "method": method, "params": params})


def encode_result(request_id: RequestId | None, result: Any) -> bytes:
    """Return a success reply payload."""
    return _dumps({"jsonrpc": "2.0", "id": request_id, "result": result})


def encode_error(request_id: RequestId | None, error: RpcError) -> bytes:
    """Return an error reply payload."""
    return _dumps({"jsonrpc": "2.0", "id": request_id, "error": error.as_object()})


def _load(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise RpcError(PARSE_ERROR, f"parse error: {exc}") from None


def _valid_id(value: object) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)


def parse_request(payload: bytes) -> Request:
    """Parse a payload received by a server; ``RpcError`` (parse / invalid request) if bad.

    An ``RpcError`` raised for an invalid request carries the request id in ``data`` when one
    could be read, so the reply can name it.
    """
    message = _load(payload)
    if isinstance(message, list):
        raise RpcError(INVALID_REQUEST, "batch requests are not supported")
    if not isinstance(message, dict):
        raise RpcError(INVALID_REQUEST, "a request must be a JSON object")
    request_id = message.get("id")
    has_id = "id" in message
    if has_id and not _valid_id(request_id):
        raise RpcError(INVALID_REQUEST, "id must be an integer or a string")
    reply_id = {"id": request_id} if has_id else None
    if message.get("jsonrpc") != "2.0":
        raise RpcError(INVALID_REQUEST, 'jsonrpc must be "2.0"', reply_id)
    method = message.get("method")
    if not isinstance(method, str) or not method:
        raise RpcError(INVALID_REQUEST, "method must be a non-empty string", reply_id)
    params = message.get("params", {})
    if isinstance(params, list):
        raise RpcError(INVALID_PARAMS, "params must be an object (by name)", reply_id)
    if not isinstance(params, dict):
        raise RpcError(INVALID_REQUEST, "params must be an object", reply_id)
    unknown = set(message) - {"jsonrpc", "id", "method", "params"}
    if unknown:
        raise RpcError(INVALID_REQUEST, f"unknown members: {sorted(unknown)}", reply_id)
    return Request(method, params, request_id if has_id else None)


def parse_incoming(payload: bytes) -> Request | Response:
    """Parse a payload received by a client: a reply or a notification (``RpcError`` if bad)."""
    message = _load(payload)
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        raise RpcError(INVALID_REQUEST, "not a JSON-RPC 2.0 message")
    if "method" in message:
        params = message.get("params", {})
        if not isinstance(message["method"], str) or not isinstance(params, dict):
            raise RpcError(INVALID_REQUEST, "malformed notification")
        return Request(message["method"], params, None)
    error = message.get("error")
    if error is not None:
        if not isinstance(error, dict) or not isinstance(error.get("code"), int):
            raise RpcError(INVALID_REQUEST, "malformed error object")
        rpc_error = RpcError(error["code"], str(error.get("message", "")), error.get("data"))
        return Response(message.get("id"), error=rpc_error)
    if "result" not in message:
        raise RpcError(INVALID_REQUEST, "reply without result or error")
    return Response(message.get("id"), result=message["result"])
