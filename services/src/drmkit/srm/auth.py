"""Who a ``Client-Token`` belongs to: signed JWTs or the store's token table.

Table tokens are random (256 bits) and stored only as their SHA-256: a fast hash is enough for a
high-entropy secret (there is nothing to brute-force), and it keeps lookups one index probe.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any, Protocol

from drmkit.errors import DrmkitError
from drmkit.srm.stores.base import Identity, SessionStore

#: Longest ``Client-Token`` accepted; anything longer is invalid without further work.
MAX_TOKEN_LENGTH = 4096

#: RFC 7518 §3.2: an HMAC key must be at least as long as the hash output.
HMAC_MIN_KEY_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}

#: RFC 7518 §3.3 and §3.5: RSA keys (RS*, PS*) must have at least 2048 bits.
RSA_MIN_KEY_BITS = 2048


class JwtKeyError(DrmkitError, ValueError):
    """The JWT verification key is unusable for an accepted algorithm (wrong kind, too short)."""


class TokenVerifier(Protocol):
    """Turns a ``Client-Token`` into an identity, or ``None`` when it is not valid."""

    async def verify(self, token: str) -> Identity | None:
        """Return the token's identity, or ``None`` (unknown, malformed, expired, bad signature)."""
        ...


def hash_token(token: str) -> str:
    """Return the stored form of a table token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    """Return a fresh random client token (URL-safe text that never starts with ``-``).

    A leading ``-`` would read as an option on every command line that takes the token
    (``drmkit srm tokens revoke TOKEN``); such draws are redrawn.
    """
    while True:
        token = secrets.token_urlsafe(32)
        if not token.startswith("-"):
            return token


class TokenTableVerifier:
    """Tokens issued by ``drmkit srm tokens add`` and kept (hashed) in the session store."""

    def __init__(self, store: SessionStore) -> None:
        self._store = store

    async def verify(self, token: str) -> Identity | None:
        """Look the token's hash up in the store."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        return await self._store.find_token(hash_token(token))

    async def issue(self, identity: Identity) -> str:
        """Create, store (hashed) and return a new token for ``identity``."""
        token = new_token()
        await self._store.add_token(hash_token(token), identity)
        return token


class JwtVerifier:
    """Signed tokens (JWT) checked with a configured key; ``exp`` is required."""

    def __init__(
        self,
        key: str,
        *,
        algorithms: list[str],
        account_claim: str = "sub",
        device_claim: str = "device",
        audience: str | None = None,
        issuer: str | None = None,
        leeway_s: float = 5.0,
    ) -> None:
        import jwt  # the ``srm`` extra; imported here so table-token deployments do not need it

        if not algorithms or any(a.lower() == "none" for a in algorithms):
            raise ValueError("JWT algorithms must be named and must not include 'none'")
        known = jwt.algorithms.get_default_algorithms()
        for algorithm in algorithms:
            # Check the key against every accepted algorithm now: a wrong key is a start-up error,
            # not a 401 for every client later.
            if algorithm not in known:
                raise ValueError(f"unknown JWT algorithm {algorithm!r}")
            try:
                prepared = known[algorithm].prepare_key(key)
            except (jwt.PyJWTError, ValueError, TypeError) as exc:
                raise JwtKeyError(f"JWT key does not suit {algorithm}: {exc}") from exc
            _check_key_strength(algorithm, prepared)
        self._jwt = jwt
        self._key: Any = key
        self._algorithms = algorithms
        self._account_claim = account_claim
        self._device_claim = device_claim
        self._audience = audience
        self._issuer = issuer
        self._leeway_s = leeway_s

    async def verify(self, token: str) -> Identity | None:
        """Check signature, ``exp`` (and ``aud``/``iss`` when configured); read the claims."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        try:
            claims = self._jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway_s,
                options={"require": ["exp"], "verify_aud": self._audience is not None},
            )
        except self._jwt.PyJWTError:
            return None
        account = claims.get(self._account_claim)
        device = claims.get(self._device_claim)
        if not isinstance(account, str) or not account or not isinstance(device, str) or not device:
            return None
        return Identity(account=account, device=device)


def _check_key_strength(algorithm: str, prepared: Any) -> None:
    """Refuse keys below RFC 7518's minimum (a short HMAC secret can be brute-forced offline)."""
    minimum = HMAC_MIN_KEY_BYTES.get(algorithm)
    if minimum is not None and len(prepared) < minimum:
        raise JwtKeyError(
            f"the {algorithm} key is {len(prepared)} bytes; RFC 7518 §3.2 requires at least "
            f"{minimum} (the size of the hash output)"
        )
    bits = getattr(prepared, "key_size", None)
    if algorithm[:2] in ("RS", "PS") and isinstance(bits, int) and bits < RSA_MIN_KEY_BITS:
        raise JwtKeyError(
            f"the {algorithm} key has {bits} bits; RFC 7518 requires at least {RSA_MIN_KEY_BITS}"
        )


def operator_token_matches(expected: str, authorization: str | None) -> bool:
    """Check an ``Authorization: Bearer <token>`` header in constant time."""
    if not authorization:
        return False
    scheme, _, presented = authorization.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return False
    return hmac.compare_digest(presented.strip().encode(), expected.encode())
