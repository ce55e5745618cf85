"""The license server's key store: content keys by key id, in SQLite.

Every operation opens its own connection, so the store is safe to use from any thread (the ASGI app
calls it from worker threads) and from several processes at once (``drmkit keys`` while the server
runs). The database uses WAL so readers never wait for a writer.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from drmkit.errors import DrmkitError
from drmkit.license_server.config import LicenseServerSettings
from drmkit.license_server.keyids import KEY_BYTES

logger = logging.getLogger(__name__)

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS content_keys (
    kid BLOB PRIMARY KEY CHECK (length(kid) = 16),
    key BLOB NOT NULL CHECK (length(key) = 16),
    label TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
) WITHOUT ROWID
"""
# SQLite's default limit on host parameters in one statement is 999 on old builds.
_LOOKUP_BATCH = 500


class KeyStoreError(DrmkitError):
    """The key store cannot be opened or used (unwritable path, not a drmkit database, ...)."""


class KeyExistsError(KeyStoreError):
    """A key with this key id is already stored (pass ``replace=True`` to overwrite it)."""


@dataclass(frozen=True, slots=True)
class StoredKey:
    """One content key with its key id, a free-form label and when it was added (Unix time)."""

    kid: bytes
    key: bytes
    label: str
    created_at: float


def _check_16(value: bytes, what: str) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != KEY_BYTES:
        raise ValueError(f"{what} must be {KEY_BYTES} bytes")


class KeyStore:
    """Content keys by key id in a SQLite file; thread-safe (a connection per operation)."""

    def __init__(self, path: Path, *, timeout_s: float = 5.0) -> None:
        self.path = path
        self._timeout_s = timeout_s
        self._initialize()

    def _initialize(self) -> None:
        try:
            # Content keys are secrets: a new directory and database are the owner's alone
            # (SQLite gives its -wal/-shm files the database file's permissions).
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError as exc:
            raise KeyStoreError(
                f"cannot create the key store directory {self.path.parent}: {exc}"
            ) from exc
        with self._connect() as db:
            try:
                db.execute("PRAGMA journal_mode=WAL")
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version not in (0, _SCHEMA_VERSION):
                    raise KeyStoreError(
                        f"{self.path} has key store schema version {version}; "
                        f"this drmkit understands {_SCHEMA_VERSION}"
                    )
                db.execute(_SCHEMA)
                db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
            except sqlite3.DatabaseError as exc:
                raise KeyStoreError(f"{self.path} is not a usable key store: {exc}") from exc

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=self._timeout_s, isolation_level=None)
        except sqlite3.Error as exc:
            raise KeyStoreError(f"cannot open the key store {self.path}: {exc}") from exc
        try:
            yield db
        except sqlite3.DatabaseError as exc:
            raise KeyStoreError(f"key store {self.path}: {exc}") from exc
        finally:
            db.close()

    def add(self, kid: bytes, key: bytes, *, label: str = "", replace: bool = False) -> None:
        """Store ``key`` under ``kid``; raise ``KeyExistsError`` if present and not ``replace``."""
        _check_16(kid, "key id")
        _check_16(key, "key")
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        with self._connect() as db:
            try:
                db.execute(
                    f"{verb} INTO content_keys (kid, key, label, created_at) VALUES (?, ?, ?, ?)",
                    (bytes(kid), bytes(key), label, time.time()),
                )
            except sqlite3.IntegrityError:
                raise KeyExistsError(f"key id {kid.hex()} is already stored") from None
        logger.info("key stored", extra={"kid": kid.hex(), "replaced": replace})

    def remove(self, kid: bytes) -> bool:
        """Delete the key of ``kid``; return whether there was one."""
        _check_16(kid, "key id")
        with self._connect() as db:
            removed = db.execute("DELETE FROM content_keys WHERE kid = ?", (bytes(kid),)).rowcount
        if removed:
            logger.info("key removed", extra={"kid": kid.hex()})
        return removed > 0

    def get(self, kid: bytes) -> bytes | None:
        """Return the key of ``kid``, or ``None``."""
        return self.lookup([kid]).get(bytes(kid))

    def lookup(self, kids: Iterable[bytes]) -> dict[bytes, bytes]:
        """Return ``{kid: key}`` for those of ``kids`` that are stored (any length is looked up)."""
        wanted = list(dict.fromkeys(bytes(k) for k in kids))
        found: dict[bytes, bytes] = {}
        with self._connect() as db:
            for start in range(0, len(wanted), _LOOKUP_BATCH):
                batch = wanted[start : start + _LOOKUP_BATCH]
                marks = ",".join("?" * len(batch))
                rows = db.execute(
                    f"SELECT kid, key FROM content_keys WHERE kid IN ({marks})", batch
                ).fetchall()
                found.update((bytes(kid), bytes(key)) for kid, key in rows)
        return found

    def entries(self) -> list[StoredKey]:
        """Return every stored key, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT kid, key, label, created_at FROM content_keys ORDER BY created_at, kid"
            ).fetchall()
        return [StoredKey(bytes(r[0]), bytes(r[1]), r[2], r[3]) for r in rows]

    def __len__(self) -> int:
        with self._connect() as db:
            count: int = db.execute("SELECT count(*) FROM content_keys").fetchone()[0]
        return count


class HasLicenseServer(Protocol):
    """Settings with a ``state_dir`` and a ``[license_server]`` section."""

    @property
    def state_dir(self) -> Path:
        """Drmkit's state directory."""
        ...

    @property
    def license_server(self) -> LicenseServerSettings:
        """The ``[license_server]`` section."""
        ...


def default_key_store_path(state_dir: Path) -> Path:
    """Return the default key store file under ``state_dir``."""
    return state_dir / "license-server" / "keys.sqlite3"


def key_store_path(settings: HasLicenseServer) -> Path:
    """Return the key store file: ``license_server.db_path`` or its default under ``state_dir``."""
    configured = settings.license_server.db_path
    return configured if configured is not None else default_key_store_path(settings.state_dir)


def open_key_store(settings: HasLicenseServer) -> KeyStore:
    """Open (creating if needed) the key store ``settings`` name."""
    return KeyStore(key_store_path(settings))
