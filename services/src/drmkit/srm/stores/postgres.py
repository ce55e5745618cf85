"""PostgreSQL store: one transaction per admission under a per-account advisory lock.

``pg_advisory_xact_lock(hashtextextended(account, 0))`` serialises admissions (and keep-alives)
of one account across every SRM node and connection, and is released by the transaction's end.
Under it, one statement drops the account's expired sessions, counts the live ones and inserts
the new one only below the limit. A plain count-then-insert under READ COMMITTED would let two
transactions both see ``limit - 1``. Keep-alives take the same lock so that a keep-alive cannot
extend a session that a concurrent admission has just counted as expired.

The clock is the server's: ``statement_timestamp()`` of the statement that runs under the lock.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from drmkit.srm.errors import OtherDeviceError, StoreUnavailableError
from drmkit.srm.stores.base import Admitted, Denied, Identity, SessionRecord, SessionStore
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool, PoolTimeout

_SCHEMA = [
    "SELECT pg_advisory_xact_lock(7061584912345)",  # one schema migration at a time
    """CREATE TABLE IF NOT EXISTS srm_session (
        id uuid PRIMARY KEY,
        account text NOT NULL,
        device text NOT NULL,
        content_id text NOT NULL,
        content_type text NOT NULL,
        timeout_s integer NOT NULL,
        created_at timestamptz NOT NULL,
        last_seen timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        idem_key text
    )""",
    # Stores created before idempotency keys existed.
    "ALTER TABLE srm_session ADD COLUMN IF NOT EXISTS idem_key text",
    # Stores created before setups were undone (see ``discard``).
    "ALTER TABLE srm_session ADD COLUMN IF NOT EXISTS replayed boolean NOT NULL DEFAULT false",
    "CREATE INDEX IF NOT EXISTS srm_session_acct_idem ON srm_session (account, idem_key)",
    "CREATE INDEX IF NOT EXISTS srm_session_acct_exp ON srm_session (account, expires_at)",
    "CREATE INDEX IF NOT EXISTS srm_session_exp ON srm_session (expires_at)",
    """CREATE TABLE IF NOT EXISTS srm_account (
        account text PRIMARY KEY,
        stream_limit integer NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS srm_token (
        token_hash text PRIMARY KEY,
        account text NOT NULL,
        device text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    )""",
]

_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"

_ADMIT = """
WITH now AS (SELECT statement_timestamp() AS t),
lim AS (
    SELECT coalesce(
        (SELECT stream_limit FROM srm_account WHERE account = %(account)s), %(limit)s
    ) AS l
),
live AS (
    SELECT count(*) AS n FROM srm_session, now
    WHERE account = %(account)s AND expires_at > now.t
),
purged AS (
    DELETE FROM srm_session USING now
    WHERE account = %(account)s AND expires_at <= now.t
),
inserted AS (
    INSERT INTO srm_session
        (id, account, device, content_id, content_type, timeout_s,
         created_at, last_seen, expires_at, idem_key)
    SELECT %(id)s, %(account)s, %(device)s, %(content_id)s, %(content_type)s, %(timeout)s,
           now.t, now.t, now.t + make_interval(secs => %(timeout)s), %(idem_key)s
    FROM now, live, lim
    WHERE lim.l = 0 OR live.n < lim.l
    RETURNING 1
)
SELECT (SELECT n FROM live), (SELECT count(*) FROM inserted)
"""

# A replay marks the session as handed out, so that ``discard`` keeps it.
_REPLAY = """
UPDATE srm_session SET replayed = true
WHERE account = %s AND device = %s AND idem_key = %s AND expires_at > statement_timestamp()
RETURNING id, timeout_s
"""

_KEEPALIVE = """
UPDATE srm_session
SET last_seen = statement_timestamp(),
    expires_at = statement_timestamp() + make_interval(secs => timeout_s)
WHERE id = %s AND account = %s AND expires_at > statement_timestamp()
  AND device = coalesce(%s, device)
RETURNING 1
"""

# Asked only after a keep-alive or teardown of a device matched nothing: is the session live but
# another device's? A session's device never changes, so this cannot contradict the first look.
_OTHER_DEVICE = """
SELECT 1 FROM srm_session
WHERE id = %s AND account = %s AND expires_at > statement_timestamp() AND device <> %s
"""


class PostgresStore(SessionStore):
    """Sessions in PostgreSQL (psycopg 3 async pool); several SRM nodes may share one server."""

    kind = "postgres"

    def __init__(self, url: str, *, pool_size: int = 10, timeout_s: float = 2.0) -> None:
        self.url = url
        self._pool_size = pool_size
        self._timeout_s = timeout_s
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]] | None = None

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[psycopg.AsyncConnection[TupleRow]]:
        """Borrow a connection; connection-level failures become ``StoreUnavailableError``."""
        if self._pool is None:
            raise StoreUnavailableError("PostgreSQL store is not open")
        try:
            async with self._pool.connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise StoreUnavailableError(f"PostgreSQL: {exc}") from exc
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise StoreUnavailableError(f"PostgreSQL: {exc}") from exc

    async def open(self) -> None:
        """Open the pool (fails if the server cannot be reached in time) and create the schema."""
        if self._pool is not None:
            return
        pool: AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]] = AsyncConnectionPool(
            self.url,
            min_size=1,
            max_size=self._pool_size,
            timeout=self._timeout_s,
            open=False,
            check=AsyncConnectionPool.check_connection,
            kwargs={
                "autocommit": True,
                "connect_timeout": max(1, int(self._timeout_s)),
                "application_name": "drmkit-srm",
            },
        )
        try:
            await pool.open(wait=True, timeout=self._timeout_s * 5)
        except (PoolTimeout, psycopg.Error) as exc:
            await pool.close()
            raise StoreUnavailableError(f"PostgreSQL: cannot connect: {exc}") from exc
        self._pool = pool
        try:
            async with self._conn() as conn, conn.transaction():
                for statement in _SCHEMA:
                    await conn.execute(statement)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close the pool."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

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
        """Lock the account, then purge, count and conditionally insert in one statement."""
        new_id = session_id or uuid.uuid4()
        params: dict[str, Any] = {
            "id": new_id,
            "account": identity.account,
            "device": identity.device,
            "content_id": content_id,
            "content_type": content_type,
            "timeout": timeout_s,
            "limit": default_limit,
            "idem_key": idempotency_key,
        }
        # Pipeline mode: BEGIN, the lock and the admission go out in one round trip.
        async with self._conn() as conn, conn.pipeline(), conn.transaction():
            await conn.execute(_LOCK, (identity.account,))
            if idempotency_key is not None:
                cur = await conn.execute(
                    _REPLAY, (identity.account, identity.device, idempotency_key)
                )
                prior = await cur.fetchone()
                if prior is not None:
                    return Admitted(
                        session_id=prior[0], timeout_s=int(prior[1]), live=0, replayed=True
                    )
            cur = await conn.execute(_ADMIT, params)
            row = await cur.fetchone()
        assert row is not None
        live, inserted = int(row[0]), int(row[1])
        if inserted:
            return Admitted(session_id=new_id, timeout_s=timeout_s, live=live + 1)
        return Denied(live=live)

    async def keepalive(
        self, account: str, session_id: uuid.UUID, device: str | None = None
    ) -> bool:
        """Extend the session under the account lock while it is live; delete it if expired."""
        async with self._conn() as conn, conn.pipeline(), conn.transaction():
            await conn.execute(_LOCK, (account,))
            cur = await conn.execute(_KEEPALIVE, (session_id, account, device))
            if await cur.fetchone() is not None:  # rowcount is not known yet in pipeline mode
                return True
            await self._refuse_other_device(conn, account, session_id, device)
            await conn.execute(
                "DELETE FROM srm_session WHERE id = %s AND account = %s "
                "AND expires_at <= statement_timestamp()",
                (session_id, account),
            )
            return False

    async def teardown(
        self, account: str, session_id: uuid.UUID, device: str | None = None
    ) -> bool:
        """Delete the row; report whether it was still live."""
        async with self._conn() as conn:
            cur = await conn.execute(
                "DELETE FROM srm_session WHERE id = %s AND account = %s "
                "AND device = coalesce(%s, device) "
                "RETURNING expires_at > statement_timestamp()",
                (session_id, account, device),
            )
            row = await cur.fetchone()
            if row is None:
                await self._refuse_other_device(conn, account, session_id, device)
        return row is not None and bool(row[0])

    @staticmethod
    async def _refuse_other_device(
        conn: psycopg.AsyncConnection[TupleRow],
        account: str,
        session_id: uuid.UUID,
        device: str | None,
    ) -> None:
        if device is None:
            return
        cur = await conn.execute(_OTHER_DEVICE, (session_id, account, device))
        if await cur.fetchone() is not None:
            raise OtherDeviceError("the session belongs to another device")

    async def discard(self, account: str, session_id: uuid.UUID) -> bool:
        """Delete the row unless a replayed setup handed it out.

        No account lock is needed: a replay marks the row under a row lock, and a DELETE that
        waited for it re-checks ``NOT replayed`` on the row as the replay left it.
        """
        async with self._conn() as conn:
            cur = await conn.execute(
                "DELETE FROM srm_session WHERE id = %s AND account = %s AND NOT replayed",
                (session_id, account),
            )
            return cur.rowcount == 1

    async def list_sessions(self, account: str) -> list[SessionRecord]:
        """Return live sessions, oldest first."""
        async with self._conn() as conn:
            cur = await conn.execute(
                "SELECT id, account, device, content_id, content_type, created_at, last_seen, "
                "expires_at FROM srm_session "
                "WHERE account = %s AND expires_at > statement_timestamp() ORDER BY created_at",
                (account,),
            )
            rows = await cur.fetchall()
        return [
            SessionRecord(
                session_id=r[0],
                account=r[1],
                device=r[2],
                content_id=r[3],
                content_type=r[4],
                created_at=r[5],
                last_keepalive=r[6],
                expires_at=r[7],
            )
            for r in rows
        ]

    async def count_live(self, account: str) -> int:
        """Count rows with ``expires_at > now``."""
        async with self._conn() as conn:
            cur = await conn.execute(
                "SELECT count(*) FROM srm_session "
                "WHERE account = %s AND expires_at > statement_timestamp()",
                (account,),
            )
            row = await cur.fetchone()
        return 0 if row is None else int(row[0])

    async def reap(self) -> int:
        """Delete expired rows in batches (short transactions, no long table lock)."""
        removed = 0
        async with self._conn() as conn:
            while True:
                cur = await conn.execute(
                    "DELETE FROM srm_session WHERE id IN (SELECT id FROM srm_session "
                    "WHERE expires_at <= statement_timestamp() LIMIT 5000)"
                )
                removed += max(cur.rowcount, 0)
                if cur.rowcount < 5000:
                    return removed

    async def set_account_limit(self, account: str, limit: int | None) -> None:
        """Upsert or delete the account row."""
        async with self._conn() as conn:
            if limit is None:
                await conn.execute("DELETE FROM srm_account WHERE account = %s", (account,))
            else:
                await conn.execute(
                    "INSERT INTO srm_account (account, stream_limit) VALUES (%s, %s) "
                    "ON CONFLICT (account) DO UPDATE SET stream_limit = excluded.stream_limit",
                    (account, limit),
                )

    async def get_account_limit(self, account: str) -> int | None:
        """Read the account row."""
        async with self._conn() as conn:
            cur = await conn.execute(
                "SELECT stream_limit FROM srm_account WHERE account = %s", (account,)
            )
            row = await cur.fetchone()
        return None if row is None else int(row[0])

    async def add_token(self, token_hash: str, identity: Identity) -> None:
        """Insert the token hash."""
        async with self._conn() as conn:
            await conn.execute(
                "INSERT INTO srm_token (token_hash, account, device) VALUES (%s, %s, %s)",
                (token_hash, identity.account, identity.device),
            )

    async def find_token(self, token_hash: str) -> Identity | None:
        """Look the token hash up."""
        async with self._conn() as conn:
            cur = await conn.execute(
                "SELECT account, device FROM srm_token WHERE token_hash = %s", (token_hash,)
            )
            row = await cur.fetchone()
        return None if row is None else Identity(account=row[0], device=row[1])

    async def revoke_token(self, token_hash: str) -> bool:
        """Delete the token hash."""
        async with self._conn() as conn:
            cur = await conn.execute("DELETE FROM srm_token WHERE token_hash = %s", (token_hash,))
            return cur.rowcount == 1
