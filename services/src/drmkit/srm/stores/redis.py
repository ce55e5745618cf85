"""Redis store: per-account sorted sets, admission in one server-side Lua script.

Keys (hash-tagged by account so a cluster keeps an account's keys in one slot):

* ``srm:{<account>}:z``: sorted set, member = session id, score = expiry (ms, Redis clock);
* ``srm:{<account>}:h``: hash, session id -> JSON metadata (device, content, timeout, created,
  last keep-alive);
* ``srm:{<account>}:limit``: the account's own limit (read by the admission script);
* ``srm:token:<sha256>``: a client token.

A script runs alone on the server, so "drop expired, count, insert below the limit" is atomic, and
the time comes from ``redis.call('TIME')``: every SRM node sharing the server uses the same clock,
whatever the nodes' own clocks say. Key TTLs (``PEXPIREAT`` of the latest expiry) are a backstop
that frees an abandoned account's keys even without the sweeper.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, TypeVar

import redis.asyncio as aioredis
from drmkit.srm.errors import OtherDeviceError, StoreUnavailableError
from drmkit.srm.stores.base import Admitted, Denied, Identity, SessionRecord, SessionStore
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

T = TypeVar("T")

_PRELUDE = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function drop(z, h, sid)
  redis.call('ZREM', z, sid)
  local raw = redis.call('HGET', h, sid)
  if raw then
    local key = cjson.decode(raw)['x']
    if key then
      redis.call('HDEL', h, 'k:' .. key)
    end
    redis.call('HDEL', h, sid)
  end
end
local function purge(z, h, now)
  local gone = redis.call('ZRANGEBYSCORE', z, '-inf', now)
  for _, sid in ipairs(gone) do
    drop(z, h, sid)
  end
  return #gone
end
local function backstop(z, h)
  local top = redis.call('ZRANGE', z, -1, -1, 'WITHSCORES')
  if #top == 0 then
    redis.call('DEL', z, h)
    return
  end
  local at = tonumber(top[2]) + 1000
  redis.call('PEXPIREAT', z, at)
  redis.call('PEXPIREAT', h, at)
end
"""

# KEYS: zset, hash, own limit. ARGV: session id, default limit (0 = unlimited), timeout ms,
# metadata JSON, idempotency key ('' for none). Returns {1, n} admitted, {0, n} denied, or
# {2, n, session id, timeout s} when a live session already carries the idempotency key (the
# session is then marked handed out, 'r', so that a discard keeps it).
_ADMIT = (
    _PRELUDE
    + """
local now = now_ms()
purge(KEYS[1], KEYS[2], now)
local n = redis.call('ZCARD', KEYS[1])
local meta = cjson.decode(ARGV[4])
local idem = ARGV[5]
if idem ~= '' then
  -- Keys are per device: length-prefixing the device keeps the pair unambiguous.
  idem = #meta['d'] .. ':' .. meta['d'] .. ':' .. idem
  local prior = redis.call('HGET', KEYS[2], 'k:' .. idem)
  if prior and redis.call('ZSCORE', KEYS[1], prior) then
    local held = cjson.decode(redis.call('HGET', KEYS[2], prior))
    held['r'] = 1
    redis.call('HSET', KEYS[2], prior, cjson.encode(held))
    return {2, n, prior, math.floor(tonumber(held['o']) / 1000)}
  end
end
local own = redis.call('GET', KEYS[3])
local limit = tonumber(own or ARGV[2])
if limit > 0 and n >= limit then
  return {0, n}
end
meta['c'] = now
meta['k'] = now
if idem ~= '' then
  meta['x'] = idem
  redis.call('HSET', KEYS[2], 'k:' .. idem, ARGV[1])
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(meta))
backstop(KEYS[1], KEYS[2])
return {1, n + 1}
"""
)

# KEYS: zset, hash. ARGV: session id, device ('' for any). Returns 1 extended, 0 unknown or
# expired, 2 live but another device's (unchanged). Never revives: an expired member is removed.
_KEEPALIVE = (
    _PRELUDE
    + """
local now = now_ms()
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then
  return 0
end
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if tonumber(score) <= now or not raw then
  drop(KEYS[1], KEYS[2], ARGV[1])
  backstop(KEYS[1], KEYS[2])
  return 0
end
local meta = cjson.decode(raw)
if ARGV[2] ~= '' and meta['d'] ~= ARGV[2] then
  return 2
end
meta['k'] = now
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(meta['o']), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(meta))
backstop(KEYS[1], KEYS[2])
return 1
"""
)

# KEYS: zset, hash. ARGV: session id. Deletes the session unless a replay handed it out ('r').
_DISCARD = (
    _PRELUDE
    + """
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if raw and cjson.decode(raw)['r'] then
  return 0
end
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
drop(KEYS[1], KEYS[2], ARGV[1])
backstop(KEYS[1], KEYS[2])
return 1
"""
)

# KEYS: zset, hash. ARGV: session id, device ('' for any). Returns 1 if the session was live and
# is deleted, 0 if unknown or expired, 2 if live but another device's (unchanged).
_TEARDOWN = (
    _PRELUDE
    + """
local now = now_ms()
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then
  return 0
end
if ARGV[2] ~= '' and tonumber(score) > now then
  local raw = redis.call('HGET', KEYS[2], ARGV[1])
  if raw and cjson.decode(raw)['d'] ~= ARGV[2] then
    return 2
  end
end
drop(KEYS[1], KEYS[2], ARGV[1])
backstop(KEYS[1], KEYS[2])
if tonumber(score) > now then
  return 1
end
return 0
"""
)

# KEYS: zset, hash. Returns {session id, expiry ms, metadata JSON, ...} of live sessions.
_LIST = (
    _PRELUDE
    + """
local now = now_ms()
local live = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES')
local out = {}
for i = 1, #live, 2 do
  out[#out + 1] = live[i]
  out[#out + 1] = live[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[2], live[i]) or '{}'
end
return out
"""
)

# KEYS: zset. Returns the number of live sessions.
_COUNT = (
    _PRELUDE
    + """
return redis.call('ZCOUNT', KEYS[1], '(' .. now_ms(), '+inf')
"""
)

# KEYS: zset, hash. Returns how many expired sessions were removed.
_REAP = (
    _PRELUDE
    + """
local n = purge(KEYS[1], KEYS[2], now_ms())
backstop(KEYS[1], KEYS[2])
return n
"""
)


def _keys(account: str) -> list[str]:
    return [f"srm:{{{account}}}:z", f"srm:{{{account}}}:h"]


def _limit_key(account: str) -> str:
    return f"srm:{{{account}}}:limit"


def _owned(reply: int) -> bool:
    """Read a keep-alive or teardown script's reply (2: another device's live session)."""
    if reply == 2:
        raise OtherDeviceError("the session belongs to another device")
    return reply == 1


def _ms(value: Any) -> datetime:
    return datetime.fromtimestamp(float(value) / 1000.0, UTC)


class RedisStore(SessionStore):
    """Sessions in Redis (``redis.asyncio``); several SRM nodes may share one server."""

    kind = "redis"

    def __init__(self, url: str, *, pool_size: int = 10, timeout_s: float = 2.0) -> None:
        self.url = url
        self._pool_size = pool_size
        self._timeout_s = timeout_s
        self._client: aioredis.Redis | None = None

    def _redis(self) -> aioredis.Redis:
        if self._client is None:
            raise StoreUnavailableError("Redis store is not open")
        return self._client

    async def _call(self, operation: Awaitable[T]) -> T:
        try:
            return await operation
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailableError(f"Redis: {exc}") from exc
        except ResponseError as exc:
            # LOADING, READONLY replica after failover, MASTERDOWN, BUSY: not ours to fix here.
            raise StoreUnavailableError(f"Redis: {exc}") from exc
        except RedisError as exc:
            raise StoreUnavailableError(f"Redis: {exc}") from exc

    async def open(self) -> None:
        """Create the client and load the scripts (they reload themselves after NOSCRIPT)."""
        if self._client is not None:
            return
        pool = aioredis.BlockingConnectionPool.from_url(
            self.url,
            max_connections=self._pool_size,
            timeout=self._timeout_s,
            socket_timeout=self._timeout_s,
            socket_connect_timeout=self._timeout_s,
            decode_responses=True,
            # No client-side retry: a retried admit whose first reply was lost would take a
            # second slot. The caller fails closed (503) instead.
            retry=Retry(NoBackoff(), 0),
        )
        client = aioredis.Redis(connection_pool=pool)
        self._admit = client.register_script(_ADMIT)
        self._keepalive = client.register_script(_KEEPALIVE)
        self._teardown = client.register_script(_TEARDOWN)
        self._discard = client.register_script(_DISCARD)
        self._list = client.register_script(_LIST)
        self._count = client.register_script(_COUNT)
        self._reap = client.register_script(_REAP)
        self._client = client
        try:
            await self._call(client.ping())
        except StoreUnavailableError:
            await self.close()
            raise

    async def close(self) -> None:
        """Close the client and its pool."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose(close_connection_pool=True)

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
        """Run the admission script (purge, count, insert below the limit) for the account."""
        self._redis()
        new_id = session_id or uuid.uuid4()
        meta = json.dumps(
            {"d": identity.device, "i": content_id, "t": content_type, "o": timeout_s * 1000}
        )
        reply = await self._call(
            self._admit(
                keys=[*_keys(identity.account), _limit_key(identity.account)],
                args=[
                    str(new_id),
                    default_limit,
                    timeout_s * 1000,
                    meta,
                    idempotency_key or "",
                ],
            )
        )
        admitted, live = int(reply[0]), int(reply[1])
        if admitted == 2:
            return Admitted(
                session_id=uuid.UUID(reply[2]), timeout_s=int(reply[3]), live=live, replayed=True
            )
        if admitted == 1:
            return Admitted(session_id=new_id, timeout_s=timeout_s, live=int(live))
        return Denied(live=int(live))

    async def keepalive(
        self, account: str, session_id: uuid.UUID, device: str | None = None
    ) -> bool:
        """Run the keep-alive script."""
        self._redis()
        result = await self._call(
            self._keepalive(keys=_keys(account), args=[str(session_id), device or ""])
        )
        return _owned(int(result))

    async def teardown(
        self, account: str, session_id: uuid.UUID, device: str | None = None
    ) -> bool:
        """Run the teardown script."""
        self._redis()
        result = await self._call(
            self._teardown(keys=_keys(account), args=[str(session_id), device or ""])
        )
        return _owned(int(result))

    async def discard(self, account: str, session_id: uuid.UUID) -> bool:
        """Run the discard script."""
        self._redis()
        result = await self._call(self._discard(keys=_keys(account), args=[str(session_id)]))
        return int(result) == 1

    async def list_sessions(self, account: str) -> list[SessionRecord]:
        """Return live sessions, oldest first."""
        self._redis()
        flat = await self._call(self._list(keys=_keys(account), args=[]))
        records = []
        for i in range(0, len(flat), 3):
            meta = json.loads(flat[i + 2])
            records.append(
                SessionRecord(
                    session_id=uuid.UUID(flat[i]),
                    account=account,
                    device=str(meta.get("d", "")),
                    content_id=str(meta.get("i", "")),
                    content_type=str(meta.get("t", "")),
                    created_at=_ms(meta.get("c", 0)),
                    last_keepalive=_ms(meta.get("k", 0)),
                    expires_at=_ms(flat[i + 1]),
                )
            )
        records.sort(key=lambda r: r.created_at)
        return records

    async def count_live(self, account: str) -> int:
        """Count members scored after the server's now."""
        self._redis()
        return int(await self._call(self._count(keys=_keys(account)[:1], args=[])))

    async def reap(self) -> int:
        """Scan the accounts' sorted sets and purge each one's expired members."""
        client = self._redis()
        removed = 0

        async def sweep() -> None:
            nonlocal removed
            async for key in client.scan_iter(match="srm:{*}:z", count=500, _type="zset"):
                hash_key = key[:-1] + "h"
                removed += int(await self._reap(keys=[key, hash_key], args=[]))

        await self._call(sweep())
        return removed

    async def set_account_limit(self, account: str, limit: int | None) -> None:
        """Set or delete the account's limit key."""
        client = self._redis()
        key = _limit_key(account)
        if limit is None:
            await self._call(client.delete(key))
        else:
            await self._call(client.set(key, limit))

    async def get_account_limit(self, account: str) -> int | None:
        """Read the account's limit key."""
        value = await self._call(self._redis().get(_limit_key(account)))
        return None if value is None else int(value)

    async def add_token(self, token_hash: str, identity: Identity) -> None:
        """Store the token hash."""
        await self._call(
            self._redis().hset(
                f"srm:token:{token_hash}",
                mapping={"account": identity.account, "device": identity.device},
            )
        )

    async def find_token(self, token_hash: str) -> Identity | None:
        """Look the token hash up."""
        found = await self._call(self._redis().hgetall(f"srm:token:{token_hash}"))
        if not found:
            return None
        return Identity(account=str(found["account"]), device=str(found["device"]))

    async def revoke_token(self, token_hash: str) -> bool:
        """Delete the token hash."""
        return int(await self._call(self._redis().delete(f"srm:token:{token_hash}"))) == 1
