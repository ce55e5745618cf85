"""Key session ids: unique for the life of the process, never reused (Rialto's global counter)."""

from __future__ import annotations

import itertools

INVALID_SESSION_ID = -1
"""The id no session ever has (Rialto's ``kInvalidSessionId``)."""

_counter = itertools.count(1)


def next_session_id() -> int:
    """Return a fresh key session id (thread-safe: ``itertools.count`` is atomic under the GIL)."""
    return next(_counter)
