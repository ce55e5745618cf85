"""Session stores of the SRM and the factory that picks one from a URL."""

from __future__ import annotations

from pathlib import Path

from drmkit.srm.stores.base import (
    Admitted,
    Denied,
    Identity,
    SessionRecord,
    SessionStore,
)

__all__ = ["Admitted", "Denied", "Identity", "SessionRecord", "SessionStore", "open_store"]


def default_store_url(state_dir: Path) -> str:
    """Return the embedded default: a SQLite file under ``state_dir``."""
    return f"sqlite:///{state_dir / 'srm.sqlite3'}"


def open_store(url: str, *, pool_size: int = 10, timeout_s: float = 2.0) -> SessionStore:
    """Build (but do not connect) the store named by ``url``.

    Args:
        url: ``sqlite:///path``, ``redis://host:port/db`` (or ``rediss://``) or
            ``postgresql://...`` (``postgres://`` too).
        pool_size: connections per process for the networked stores.
        timeout_s: longest wait for a networked store per operation.

    Raises:
        ValueError: the scheme is not one of the supported stores.

    """
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        from drmkit.srm.stores.sqlite import SqliteStore

        path = url.removeprefix("sqlite://")
        path = path.removeprefix("/") if path.startswith("//") else path
        if not path or path == "/":
            raise ValueError(f"SRM store URL {url!r} names no SQLite file")
        return SqliteStore(Path(path))
    if scheme in ("redis", "rediss"):
        from drmkit.srm.stores.redis import RedisStore

        return RedisStore(url, pool_size=pool_size, timeout_s=timeout_s)
    if scheme in ("postgresql", "postgres"):
        from drmkit.srm.stores.postgres import PostgresStore

        return PostgresStore(url, pool_size=pool_size, timeout_s=timeout_s)
    raise ValueError(
        f"unsupported SRM store URL scheme {scheme!r}: use sqlite://, redis:// or postgresql://"
    )
