"""Builds the SRM's objects from settings; the container's providers call these functions.

Heavy imports (FastAPI, store drivers, PyJWT) happen inside the functions so that building the
container or importing the CLI stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pluggy
    from drmkit.srm.auth import TokenVerifier
    from drmkit.srm.config import SrmSettingsSource
    from drmkit.srm.service import SrmService
    from drmkit.srm.stores.base import SessionStore
    from fastapi import FastAPI


def store_from_settings(settings: SrmSettingsSource) -> SessionStore:
    """Return the (unopened) store named by ``srm.store_url`` (default: SQLite in state_dir)."""
    from drmkit.srm.stores import default_store_url, open_store

    srm = settings.srm
    url = srm.store_url or default_store_url(settings.state_dir)
    return open_store(url, pool_size=srm.store_pool_size, timeout_s=srm.store_timeout_s)


def verifier_from_settings(settings: SrmSettingsSource, store: SessionStore) -> TokenVerifier:
    """Return the ``Client-Token`` verifier chosen by ``srm.token_verifier``.

    Raises:
        ValueError: the JWT configuration is unusable; the message names the setting at fault
            (no key, an unreadable key file, a key too short or of the wrong kind for
            ``srm.jwt_algorithms``, an unknown algorithm).

    """
    from drmkit.srm.auth import JwtKeyError, JwtVerifier, TokenTableVerifier

    srm = settings.srm
    if srm.token_verifier == "table":
        return TokenTableVerifier(store)
    if srm.jwt_key is not None:
        key_setting = "srm.jwt_key"
        key = srm.jwt_key.get_secret_value()
    elif srm.jwt_key_file is not None:
        key_setting = "srm.jwt_key_file"
        try:
            key = srm.jwt_key_file.read_text()
        except OSError as exc:
            raise ValueError(f"{key_setting}: cannot read {srm.jwt_key_file}: {exc}") from exc
    else:
        raise ValueError(
            "srm.token_verifier is 'jwt' but neither srm.jwt_key nor jwt_key_file is set"
        )
    try:
        return JwtVerifier(
            key,
            algorithms=srm.jwt_algorithms,
            account_claim=srm.jwt_account_claim,
            device_claim=srm.jwt_device_claim,
            audience=srm.jwt_audience,
            issuer=srm.jwt_issuer,
            leeway_s=srm.jwt_leeway_s,
        )
    except JwtKeyError as exc:
        raise ValueError(f"{key_setting}: {exc}") from exc
    except ValueError as exc:
        raise ValueError(f"srm.jwt_algorithms: {exc}") from exc


def service_from_settings(
    settings: SrmSettingsSource, store: SessionStore, plugin_manager: pluggy.PluginManager
) -> SrmService:
    """Return the SRM service over ``store``."""
    from drmkit.srm.service import SrmService

    srm = settings.srm
    return SrmService(
        store,
        verifier_from_settings(settings, store),
        plugin_manager,
        default_limit=srm.default_limit,
        timeout_s=srm.session_timeout_s,
        store_timeout_s=srm.store_timeout_s,
        sweep_interval_s=srm.sweep_interval_s,
    )


def app_from_settings(settings: SrmSettingsSource, service: SrmService) -> FastAPI:
    """Return the SRM ASGI app; its lifespan opens the store and runs the sweeper."""
    from drmkit.srm.app import create_app

    srm = settings.srm
    token = srm.operator_token.get_secret_value() if srm.operator_token else None
    return create_app(service, operator_token=token, max_body_bytes=srm.max_body_bytes)


def plugin_manager() -> pluggy.PluginManager:
    """Return the SRM plugin manager with installed ``drmkit.srm`` plugins."""
    from drmkit.srm.plugin_manager import make_plugin_manager

    return make_plugin_manager()
