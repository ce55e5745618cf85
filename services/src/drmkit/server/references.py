"""The key sessions one connection reaches, and the decrypt references it holds on them.

This is the server's one place for decrypt-reference bookkeeping. The core counts references per
session (:meth:`drmkit.core.KeySession.acquire_decrypt_reference`) and defers close and release
while any is held; the server must also know *which connection* holds how many, because:

- a client may drop a reference after it released the session: the session's id is already
  unknown to its MediaKeys, so the session object is kept here until its last reference goes;
- a reference is the client's, so a client can only drop what it took (``INVALID_STATE``
  otherwise), never another connection's;
- when a MediaKeys is destroyed, or the connection ends, or the application goes Inactive, the
  core drops every session regardless of references; the counts here are forgotten with them.

Decrypts of one request (``decrypt``, ``decrypt_many``) take their reference inside the core for
the duration of the call; they do not appear here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from drmkit.errors import BadSessionIdError, InvalidStateError
from drmkit.types import SessionState

if TYPE_CHECKING:
    from drmkit.core.session import KeySession

SessionKey = tuple[int, int]
"""``(media_keys_handle, key_session_id)``."""


class DecryptReferences:
    """The sessions of one connection by ``(handle, id)`` and the references it holds on each."""

    __slots__ = ("_counts", "_sessions")

    def __init__(self) -> None:
        self._sessions: dict[SessionKey, KeySession] = {}  # released ones too, while referenced
        self._counts: dict[SessionKey, int] = {}

    def __len__(self) -> int:
        """Return how many sessions are tracked (released ones still referenced included)."""
        return len(self._sessions)

    @property
    def total(self) -> int:
        """Return how many references the connection holds, over every session."""
        return sum(self._counts.values())

    def add(self, handle: int, session: KeySession) -> None:
        """Track a session the connection created on its MediaKeys ``handle``."""
        self._sessions[(handle, session.id)] = session

    def find(self, handle: int, session_id: int) -> KeySession:
        """Return a tracked session, also one released while references are held."""
        session = self._sessions.get((handle, session_id))
        if session is None:
            raise BadSessionIdError(f"no key session {session_id!r}")
        return session

    def held(self, handle: int, session_id: int) -> int:
        """Return how many references the connection holds on the session."""
        return self._counts.get((handle, session_id), 0)

    def acquire(self, handle: int, session: KeySession) -> None:
        """Take a reference on ``session`` for the connection (the core checks the state)."""
        session.acquire_decrypt_reference()
        key = (handle, session.id)
        self._counts[key] = self._counts.get(key, 0) + 1

    def release(self, handle: int, session_id: int) -> None:
        """Drop one of the connection's references (``InvalidStateError`` if it holds none).

        At zero the core runs a deferred close and/or release; a released session is then
        forgotten here.
        """
        key = (handle, session_id)
        held = self._counts.get(key, 0)
        if held <= 0:
            raise InvalidStateError("no decrypt reference is held")
        session = self.find(handle, session_id)
        if held == 1:
            del self._counts[key]
        else:
            self._counts[key] = held - 1
        session.release_decrypt_reference()
        self.prune(handle, session_id)

    def prune(self, handle: int, session_id: int) -> None:
        """Forget a released session once no reference holds it any more."""
        key = (handle, session_id)
        session = self._sessions.get(key)
        if (
            session is not None
            and session.state is SessionState.RELEASED
            and session.decrypt_references == 0
        ):
            del self._sessions[key]

    def drop_media_keys(self, handle: int) -> None:
        """Forget the sessions and references of a destroyed MediaKeys (the core ignored them)."""
        for key in [k for k in self._sessions if k[0] == handle]:
            del self._sessions[key]
        for key in [k for k in self._counts if k[0] == handle]:
            del self._counts[key]

    def clear(self) -> None:
        """Forget everything (the connection ended, or the application went Inactive)."""
        self._sessions.clear()
        self._counts.clear()
