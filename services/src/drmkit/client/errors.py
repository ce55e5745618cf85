"""Errors of the client that have no in-process counterpart."""

from __future__ import annotations

from drmkit.errors import FailError


class ServerUnavailableError(FailError):
    """The session server cannot be reached, or went away while a call was pending.

    Status ``FAIL``. Every pending call of a connection that breaks fails with it; the client's
    objects of that connection are dead afterwards (the server released everything they owned);
    ``reconnect()`` opens a new connection.
    """


class ProtocolError(FailError):
    """The server answered something that is not valid for the protocol (a non-MKS JSON-RPC error).

    ``code`` is the JSON-RPC error code (e.g. -32602 for invalid parameters).
    """

    def __init__(self, message: str = "", code: int = 0) -> None:
        super().__init__(message)
        self.code = code
