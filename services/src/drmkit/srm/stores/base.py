"""The async store interface every SRM store implements, and its value types.

Rules every store keeps (see ``docs/srm.md``):

* ``admit`` is one atomic step per account: drop the account's expired sessions, count the live
  ones, insert the new one only below the limit.
* One time source per store: the store's own clock where several SRM nodes share it.
* A session is expired iff ``now >= expires_at``; ``expires_at = last keep-alive + timeout``.
* Keep-alive extends only a live session; it never revives an expired one.
* Lookups by session id always include the account, so one account never touches another's.
* A client's keep-alive and teardown also name its device: a live session set up by another
  device of the account is left unchanged and ``OtherDeviceError`` is raised. Idempotency keys
  are per account and device.
* Any failure to reach the store raises ``StoreUnavailableError`` (the API fails closed).
"""

from __future__ import annotations

import abc
import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Identity:
    """Who a ``Client-Token`` belongs to."""

    account: str
    device: str


@dataclass(frozen=True)
class Admitted:
    """Admission granted: the new session and its timeout (seconds).

    ``replayed`` is true when an earlier setup with the same idempotency key had already created
    this (still live) session; no new slot was taken.
    """

    session_id: uuid.UUID
    timeout_s: int
    live: int
    replayed: bool = False


@dataclass(frozen=True)
class Denied:
    """Admission refused: the account already holds ``live`` sessions (>= its limit)."""

    live: int


@dataclass(frozen=True)
class SessionRecord:
    """A live session as the operator sees it."""

    session_id: uuid.UUID
    account: str
    device: str
    content_id: str
    content_type: str
    created_at: datetime
    last_keepalive: datetime
    expires_at: datetime


class SessionStore(abc.ABC):
    """Where sessions, account limits and client tokens live."""

    #: Short name for logs and benchmarks.
    kind: str = "abstract"

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect and create the schema if needed."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections; the store can be opened again."""

    @abc.abstractmethod
    async def admit(
        self,
        identity: Identity,
        content_id: str,
        content_type: str,
        default_limit: int,
        timeout_s: int,
        idempotency_key: str | None = None,
        *,
        session_id: uuid.UUID | None = None,
    ) -> Admitted | Denied:
        """Admit a new session for ``identity.account`` atomically.

        The account's limit is read in the same atomic step: its own limit from the account
        table if it has one, else ``default_limit``; 0 means unlimited.

        Args:
            identity: account and device of the client.
            content_id: the content being played.
            content_type: its type (e.g. ``COD``, ``LIVE``).
            default_limit: limit of accounts without an own limit.
            timeout_s: keep-alive timeout of the new session.
            idempotency_key: when a live session of the same account and device was admitted
                with the same key, return it (``replayed``) instead of admitting another: a
                retried setup whose
                answer was lost takes no second slot. Returning it marks the session as handed
                out, so ``discard`` keeps it.
            session_id: the id of the new session (a fresh ``uuid4`` when omitted). The SRM
                chooses it before the call so that it can ``discard`` exactly this session when
                it answers the setup with an error while the store may still admit it.

        """

    @abc.abstractmethod
    async def keepalive(
        self, account: str, session_id: uuid.UUID, device: str | None = None
    ) -> bool:
        """Extend a live session by its timeout; ``False`` if unknown, expired or another's.

        Raises:
            OtherDeviceError: ``device`` is given and the live session is another device's; it
                is not extended.

        """

    @abc.abstractmethod
    async def teardown(
        self, account: str, session_id: uuid.UUID, device: str | None = None
    ) -> bool:
        """Delete a session; ``True`` only if it was live and the account's.

        ``device=None`` (the operator) deletes the session whichever device set it up.

        Raises:
            OtherDeviceError: ``device`` is given and the live session is another device's; it
                is not deleted.

        """

    @abc.abstractmethod
    async def discard(self, account: str, session_id: uuid.UUID) -> bool:
        """Undo an admission whose setup the SRM answered with an error.

        Deletes the session unless a replayed setup (same idempotency key) has returned it to a
        client since: that client knows the session and keeps it alive. Deleting an id that was
        never admitted is a no-op, so the SRM may call this whenever the outcome is unknown.
        Returns ``True`` if a session was deleted.
        """

    @abc.abstractmethod
    async def list_sessions(self, account: str) -> list[SessionRecord]:
        """Return the account's live sessions (expired rows ignored even before the sweeper)."""

    @abc.abstractmethod
    async def count_live(self, account: str) -> int:
        """Return how many live sessions the account holds."""

    @abc.abstractmethod
    async def reap(self) -> int:
        """Delete expired sessions of all accounts (hygiene); return how many were deleted."""

    @abc.abstractmethod
    async def set_account_limit(self, account: str, limit: int | None) -> None:
        """Set the account's own limit (0 = unlimited); ``None`` returns it to the default."""

    @abc.abstractmethod
    async def get_account_limit(self, account: str) -> int | None:
        """Return the account's own limit, or ``None`` when it uses the default."""

    @abc.abstractmethod
    async def add_token(self, token_hash: str, identity: Identity) -> None:
        """Record a client token (only its hash) for ``identity``."""

    @abc.abstractmethod
    async def find_token(self, token_hash: str) -> Identity | None:
        """Return the identity of a token hash, or ``None``."""

    @abc.abstractmethod
    async def revoke_token(self, token_hash: str) -> bool:
        """Forget a token; ``True`` if it existed."""
