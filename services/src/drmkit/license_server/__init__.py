"""drmkit's license server: Clear Key, and test licenses at the routes plugins declare, over HTTP.

Keys live in a SQLite :class:`KeyStore`; :func:`create_app` builds the Starlette application and
:class:`LicenseServerThread` runs it in the background (``drmkit demo``, tests). The names below
are imported on first use, so that importing ``drmkit.license_server.config`` (the settings root
does) does not import the web stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drmkit.license_server.app import create_app
    from drmkit.license_server.server import LicenseServerThread, serve_forever
    from drmkit.license_server.store import (
        KeyExistsError,
        KeyStore,
        KeyStoreError,
        StoredKey,
        default_key_store_path,
        key_store_path,
        open_key_store,
    )

_EXPORTS = {
    "create_app": "app",
    "LicenseServerThread": "server",
    "serve_forever": "server",
    "KeyExistsError": "store",
    "KeyStore": "store",
    "KeyStoreError": "store",
    "StoredKey": "store",
    "default_key_store_path": "store",
    "key_store_path": "store",
    "open_key_store": "store",
}

__all__ = [
    "KeyExistsError",
    "KeyStore",
    "KeyStoreError",
    "LicenseServerThread",
    "StoredKey",
    "create_app",
    "default_key_store_path",
    "key_store_path",
    "open_key_store",
    "serve_forever",
]


def __getattr__(name: str) -> Any:
    """Import the submodule that defines ``name`` on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
