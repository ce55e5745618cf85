"""SQLite store: the embedded default (one file, WAL, ``BEGIN IMMEDIATE``).

stdlib ``sqlite3`` on one dedicated thread per store: the connection never crosses threads and the
event loop never blocks on the file. ``BEGIN IMMEDIATE`` takes the write lock *before* the count is
read, so two admissions (from this process or another process on the same file) cannot both see
``limit - 1``; a deferred transaction could also fail with SQLITE_BUSY at once instead of waiting.
The clock is injected (default ``time.time``): SQLite is one host's store, so the host clock is the
single time source.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from drmkit.srm.errors import OtherDeviceError, StoreUnavailableError
from drmkit.srm.stores.base import Admitted, Denied, Identity, SessionRecord, SessionStore

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS srm_session (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    device TEXT NOT NULL,
    content_id TEXT NOT NULL,
    content_type TEXT NOT NULL,
    timeout_s INTEGER NOT NULL,
    created_at REAL NOT NULL,
    last_seen REAL NOT NULL,
    expires_at REAL NOT NULL,
    idem_key TEXT,
    replayed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS srm_session_acct_exp ON srm_session (account, expires_at);
CREATE INDEX IF NOT EXISTS srm_session_exp ON srm_session (expires_at);
CREATE TABLE IF NOT EXISTS srm_account (
    account TEXT PRIMARY KEY,
    stream_limit INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS srm_token (
    token_hash TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    device TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""


def _ts(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _refuse_other_device(
    conn: sqlite3.Connection, account: str, session_id: uuid.UUID, device: str | None, now: float
) -> None:
    """Raise ``OtherDeviceError`` if the session is live but another device's.

    Asked only after a keep-alive or teardown of ``device`` matched nothing. A session's device
    never changes, so this second look cannot contradict the first.
    """
    if device is None:
        return
    other = conn.execute(
        "SELECT 1 FROM srm_session WHERE id = ? AND account = ? AND expires_at > ? AND device <> ?",
        (str(session_id), account, now, device),
    ).fetchone()
    if other is not None:
        raise OtherDeviceError("the session belongs to another device")


class SqliteStore(SessionStore):
    """Sessions in one SQLite file; safe across threads and processes sharing the file."""

    kind = "sqlite"

    def __init__(
        self, path: Path, *, clock: Callable[[], float] = time.time, busy_timeout_ms: int = 5000
    ) -> None:
        self.path = path
        self.clock = clock
        self._busy_timeout_ms = busy_timeout_ms
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None

    # -- plumbing -------------------------------------------------------------------------------

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._executor is None:
            raise StoreUnavailableError("SQLite store is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn)

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn
        if conn is None:
            raise StoreUnavailableError("SQLite store is not open")
        try:
            return fn(conn)
        except sqlite3.OperationalError as exc:  # locked past busy_timeout, I/O error, disk full
            if conn.in_transaction:
                conn.rollback()
            raise StoreUnavailableError(f"SQLite: {exc}") from exc

    def _connect(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                conn.execute(statement)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(srm_session)")}
            if "idem_key" not in columns:  # a store created before idempotency keys existed
                conn.execute("ALTER TABLE srm_session ADD COLUMN idem_key TEXT")
            if "replayed" not in columns:  # a store created before setups were undone
                conn.execute(
                    "ALTER TABLE srm_session ADD COLUMN replayed INTEGER NOT NULL DEFAULT 0"
                )
            conn.execute(
                "CREATE INDEX IF NOT EXISTS srm_session_acct_idem "
                "ON srm_session (account, idem_key)"
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.rollback()
            conn.close()
            raise
        self._conn = conn

    async def open(self) -> None:
        """Open the file (creating it and the schema) on the store's own thread."""
        if self._executor is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="srm-sqlite")
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._connect)
        except sqlite3.Error as exc:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise StoreUnavailableError(f"SQLite: {exc}") from exc

    async def close(self) -> None:
        """Close the connection and stop the thread."""
        executor, self._executor = self._executor, None
        if executor is None:
            return

        def _close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(executor, _close)
        executor.shutdown(wait=True)

    # -- sessions -------------------------------------------------------------------------------

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
        """Reap, count and insert under ``BEGIN IMMEDIATE`` (the write lock is held throughout)."""
        new_id = session_id or uuid.uuid4()

        def _admit(conn: sqlite3.Connection) -> Admitted | Denied:
            conn.execute("BEGIN IMMEDIATE")
            try:
                now = self.clock()
                own = conn.execute(
                    "SELECT stream_limit FROM srm_account WHERE account = ?", (identity.account,)
                ).fetchone()
                limit = default_limit if own is None else int(own[0])
                conn.execute(
                    "DELETE FROM srm_session WHERE account = ? AND expires_at <= ?",
                    (identity.account, now),
                )
                (live,) = conn.execute(
                    "SELECT count(*) FROM srm_session WHERE account = ?", (identity.account,)
                ).fetchone()
                if idempotency_key is not None:
                    prior = conn.execute(
                        "SELECT id, timeout_s FROM srm_session "
                        "WHERE account = ? AND idem_key = ? AND device = ?",
                        (identity.account, idempotency_key, identity.device),
                    ).fetchone()
                    if prior is not None:
                        conn.execute(
                            "UPDATE srm_session SET replayed = 1 WHERE id = ?", (prior[0],)
                        )
                        conn.execute("COMMIT")
                        return Admitted(
                            session_id=uuid.UUID(prior[0]),
                            timeout_s=int(prior[1]),
                            live=live,
                            replayed=True,
                        )
                if limit > 0 and live >= limit:
                    conn.execute("COMMIT")
                    return Denied(live=live)
                conn.execute(
                    "INSERT INTO srm_session (id, account, device, content_id, content_type, "
                    "timeout_s, created_at, last_seen, expires_at, idem_key) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        str(new_id),
                        identity.account,
                        identity.device,
                        content_id,
                        content_type,
                        timeout_s,
                        now,
                        now,
                        now + timeout_s,
                        idempotency_key,
                    ),
                )
                conn.execute("COMMIT")
                return Admitted(session_id=new_id, timeout_s=timeout_s, live=live + 1)
            except BaseException:
                if conn.in_transaction:
                    conn.rollback()
                raise

        return await self._run(_admit)

    async def keepalive(
        self, account: str, session_id: uuid.UUID, device: str | None = None
    ) -> bool:
        """Extend the session only while ``expires_at > now``; an expired one is deleted."""

        def _keepalive(conn: sqlite3.Connection) -> bool:
            now = self.clock()
            cur = conn.execute(
                "UPDATE srm_session SET last_seen = ?, expires_at = ? + timeout_s "
                "WHERE id = ? AND account = ? AND expires_at > ? AND device = coalesce(?, device)",
                (now, now, str(session_id), account, now, device),
            )
            if cur.rowcount == 1:
                return True
            _refuse_other_device(conn, account, session_id, device, now)
            # An expired row is deleted here, so it stays dead even if the clock steps back.
            conn.execute(
                "DELETE FROM srm_session WHERE id = ? AND account = ? AND expires_at <= ?",
                (str(session_id), account, now),
            )
            return False

        return await self._run(_keepalive)

    async def teardown(
        self, account: str, session_id: uuid.UUID, device: str | None = None
    ) -> bool:
        """Delete the row; report whether it was still live."""

        def _teardown(conn: sqlite3.Connection) -> bool:
            now = self.clock()
            row = conn.execute(
                "DELETE FROM srm_session WHERE id = ? AND account = ? "
                "AND device = coalesce(?, device) RETURNING expires_at",
                (str(session_id), account, device),
            ).fetchone()
            if row is None:
                _refuse_other_device(conn, account, session_id, device, now)
            return row is not None and row[0] > now

        return await self._run(_teardown)

    async def discard(self, account: str, session_id: uuid.UUID) -> bool:
        """Delete the row unless a replayed setup handed it out."""

        def _discard(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "DELETE FROM srm_session WHERE id = ? AND account = ? AND replayed = 0",
                (str(session_id), account),
            )
            return cur.rowcount == 1

        return await self._run(_discard)

    async def list_sessions(self, account: str) -> list[SessionRecord]:
        """Return live sessions, oldest first."""

        def _list(conn: sqlite3.Connection) -> list[SessionRecord]:
            rows = conn.execute(
                "SELECT id, account, device, content_id, content_type, created_at, last_seen, "
                "expires_at FROM srm_session WHERE account = ? AND expires_at > ? "
                "ORDER BY created_at",
                (account, self.clock()),
            ).fetchall()
            return [
                SessionRecord(
                    session_id=uuid.UUID(r[0]),
                    account=r[1],
                    device=r[2],
                    content_id=r[3],
                    content_type=r[4],
                    created_at=_ts(r[5]),
                    last_keepalive=_ts(r[6]),
                    expires_at=_ts(r[7]),
                )
                for r in rows
            ]

        return await self._run(_list)

    async def count_live(self, account: str) -> int:
        """Count rows with ``expires_at > now``."""

        def _count(conn: sqlite3.Connection) -> int:
            (n,) = conn.execute(
                "SELECT count(*) FROM srm_session WHERE account = ? AND expires_at > ?",
                (account, self.clock()),
            ).fetchone()
            return int(n)

        return await self._run(_count)

    async def reap(self) -> int:
        """Delete every expired row."""

        def _reap(conn: sqlite3.Connection) -> int:
            cur = conn.execute("DELETE FROM srm_session WHERE expires_at <= ?", (self.clock(),))
            return cur.rowcount

        return await self._run(_reap)

    # -- accounts and tokens --------------------------------------------------------------------

    async def set_account_limit(self, account: str, limit: int | None) -> None:
        """Upsert or delete the account row."""

        def _set(conn: sqlite3.Connection) -> None:
            if limit is None:
                conn.execute("DELETE FROM srm_account WHERE account = ?", (account,))
            else:
                conn.execute(
                    "INSERT INTO srm_account VALUES (?, ?) "
                    "ON CONFLICT (account) DO UPDATE SET stream_limit = excluded.stream_limit",
                    (account, limit),
                )

        await self._run(_set)

    async def get_account_limit(self, account: str) -> int | None:
        """Read the account row."""

        def _get(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(
                "SELECT stream_limit FROM srm_account WHERE account = ?", (account,)
            ).fetchone()
            return None if row is None else int(row[0])

        return await self._run(_get)

    async def add_token(self, token_hash: str, identity: Identity) -> None:
        """Insert the token hash."""

        def _add(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO srm_token VALUES (?, ?, ?, ?)",
                (token_hash, identity.account, identity.device, self.clock()),
            )

        await self._run(_add)

    async def find_token(self, token_hash: str) -> Identity | None:
        """Look the token hash up."""

        def _find(conn: sqlite3.Connection) -> Identity | None:
            row = conn.execute(
                "SELECT account, device FROM srm_token WHERE token_hash = ?", (token_hash,)
            ).fetchone()
            return None if row is None else Identity(account=row[0], device=row[1])

        return await self._run(_find)

    async def revoke_token(self, token_hash: str) -> bool:
        """Delete the token hash."""

        def _revoke(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("DELETE FROM srm_token WHERE token_hash = ?", (token_hash,))
            return cur.rowcount == 1

        return await self._run(_revoke)
