"""drmkit's license server: Clear Key and the reference CDM's simulated key systems over HTTP.

Keys live in a SQLite :class:`KeyStore`; :func:`create_app` builds the Starlette application and
:class:`LicenseServerThread` runs it in the background (``drmkit demo``, tests).
"""

from __future__ import annotations

from pathlib import Path

from drmkit.license_server.app import create_app
from drmkit.license_server.server import LicenseServerThread, serve_forever
from drmkit.license_server.store import KeyExistsError, KeyStore, KeyStoreError, StoredKey
from drmkit.settings import Settings

__all__ = [
    "KeyExistsError",
    "KeyStore",
    "KeyStoreError",
    "LicenseServerThread",
    "StoredKey",
    "create_app",
    "key_store_path",
    "open_key_store",
    "serve_forever",
]


def key_store_path(settings: Settings) -> Path:
    """Return the key store file: ``license_server.db_path`` or its default under ``state_dir``."""
    configured = settings.license_server.db_path
    return configured if configured is not None else default_key_store_path(settings.state_dir)


def default_key_store_path(state_dir: Path) -> Path:
    """Return the default key store file under ``state_dir``."""
    return state_dir / "license-server" / "keys.sqlite3"


def open_key_store(settings: Settings) -> KeyStore:
    """Open (creating if needed) the key store ``settings`` name."""
    return KeyStore(key_store_path(settings))
