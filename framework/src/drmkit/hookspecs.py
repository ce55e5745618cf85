"""Hook specifications of drmkit's key-system plugins (pluggy project ``drmkit``).

Every hook is named ``drm_*``. Session and system hooks are **routed**: the framework gives each
key-system plugin a pluggy manager of its own holding only that plugin (plus cross-cutting wrapper
plugins such as metrics and logging) and calls a key system's hooks there, so an implementation
never has to check a key-system string. Hooks marked *broadcast* go to every enabled plugin.

Errors: an implementation reports failure by raising. A :class:`drmkit.errors.DrmError` subclass
keeps its status (e.g. ``NotSupportedError``, ``InvalidInitDataError``); an argument the HAL refuses
(``drmkit_hal.InvalidArgumentError``) is ``InvalidInputError``; any other exception, a plain
``ValueError`` included, becomes ``FAIL`` with the plugin's name in the message. Implementations
run on a worker thread, never on the event loop, ordered per session; they must not block on
another session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy
from drmkit.sdk import PROJECT_NAME

if TYPE_CHECKING:
    from drmkit.events import KeyStatus
    from drmkit.sdk.model import (
        KeySystemCapabilities,
        KeySystemInfo,
        LicenseHelper,
        SessionContext,
        SystemContext,
    )
    from drmkit.sdk.test_license import TestLicenseEndpoint
    from drmkit.types import DecryptParams, LimitedDurationLicense
    from drmkit_hal import CdmProfile, Hal

hookspec = pluggy.HookspecMarker(PROJECT_NAME)

# --------------------------------------------------------------------------------------------
# Declaration and discovery
# --------------------------------------------------------------------------------------------


@hookspec
def drm_key_systems() -> list[KeySystemInfo]:
    """Declare the key systems this plugin serves and their capabilities.

    :return: one :class:`~drmkit.sdk.model.KeySystemInfo` per key system (name, init data
        types, session types, encryption schemes, robustness levels, server certificate support).

    Called once per enabled plugin at start-up, when the plugin manager builds its routes.
    Broadcast, not firstresult: the framework collects every plugin's list; two plugins declaring
    the same key system is a start-up error.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def drm_license_helper(key_system: str) -> LicenseHelper | None:
    """Return the helper that builds test init data and valid licenses for ``key_system``.

    :param key_system: the key system under test (routed: only its plugin is asked).
    :return: a :class:`~drmkit.sdk.model.LicenseHelper`, or ``None`` if the plugin has none.

    Called by the conformance kit (``drmkit.testing``) and by demos. Routed, firstresult.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def drm_describe_init_data(system_id: bytes, data: bytes) -> dict[str, Any] | None:
    """Decode system-specific PSSH data or init data for display (``drmkit inspect``).

    :param system_id: the 16-byte PSSH system id.
    :param data: the PSSH box's data field (the bytes after the key id list).
    :return: a JSON-friendly dict describing the data (e.g. ``{"key_ids": [...], ...}``), or
        ``None`` when the plugin does not know ``system_id``.

    Called by ``drmkit inspect`` for every PSSH box. Broadcast, firstresult: the first plugin that
    recognises the system id answers; must not raise on malformed data (return
    ``{"error": "..."}`` instead).
    """
    raise NotImplementedError


@hookspec
def drm_test_license_endpoints() -> list[TestLicenseEndpoint]:
    """Declare the license-server routes that answer this plugin's simulated test challenges.

    :return: one :class:`~drmkit.sdk.TestLicenseEndpoint` per route: its path (e.g.
        ``"/refcdm/widevine/license"``), the key system it is for, the key systems a challenge may
        name, and the parser of the challenge (``drmkit.sdk.parse_json_test_challenge``,
        ``parse_xml_test_challenge`` or the plugin's own; raising ``TestChallengeError`` or another
        ``ValueError`` for a malformed one). An empty list when the plugin has none.

    Called once when the license server application is built (``drmkit license-server``,
    ``drmkit demo``), on every installed plugin that ``plugins.disabled`` does not block. The
    license server itself looks the keys up, issues the test license, and answers unknown key ids
    (404), malformed challenges and challenges for other key systems (400). Broadcast, not
    firstresult: every plugin's list is collected; two routes at one path are a start-up error.
    """
    raise NotImplementedError


# --------------------------------------------------------------------------------------------
# System level (one per MediaKeys)
# --------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def drm_cdm_capabilities(
    key_system: str, capabilities: KeySystemCapabilities, profile: CdmProfile
) -> KeySystemCapabilities | None:
    """Adapt the declared capabilities to the CDM actually loaded.

    :param key_system: a key system the plugin declared.
    :param capabilities: what the plugin declared in :func:`drm_key_systems` for the key system.
    :param profile: the :class:`drmkit_hal.CdmProfile` of the CDM serving the key system on the
        configured OCDM library (schemes, init-data types and session types it handles right).
    :return: the capabilities users are told about and the core enforces, or ``None`` to let the
        framework intersect ``capabilities`` with ``profile``
        (:func:`drmkit.sdk.adapt_capabilities`).

    Called once per key system per HAL, when the capabilities are first needed (``drmkit
    plugins``, capability queries, the first MediaKeys). Routed, firstresult. The generic OCDM
    mapping implements it; a plugin that can give the CDM init data in a form it parses (Clear Key
    sends ``keyids`` as Common PSSH) keeps those types.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def drm_is_supported(key_system: str, hal: Hal) -> bool | None:
    """Tell whether the platform CDM loaded in ``hal`` supports ``key_system``.

    :param key_system: a key system the plugin declared.
    :param hal: the open HAL (``drmkit_hal.Hal``).
    :return: ``True`` / ``False``.

    Called by capability queries and before creating a MediaKeys. Routed, firstresult.
    """
    raise NotImplementedError


@hookspec
def drm_create_system(system: SystemContext) -> None:
    """Create the CDM system for a new MediaKeys and keep it in ``system.cdm``.

    :param system: the MediaKeys' :class:`~drmkit.sdk.model.SystemContext`; ``system.hal`` is
        the HAL to create the CDM system with.

    Called when a MediaKeys is created. Raise ``NotSupportedError`` if the CDM has no such system.
    Routed.
    """


@hookspec
def drm_destroy_system(system: SystemContext) -> None:
    """Destroy the CDM system of a MediaKeys (after all its sessions were released).

    :param system: the MediaKeys' system context.

    Called when a MediaKeys is destroyed and when the framework switches to Inactive. Must be
    idempotent and must not raise for a system that was never created. Routed.
    """


@hookspec(firstresult=True)
def drm_get_version(system: SystemContext) -> str | None:
    """Return the CDM's version string for the key system.

    :param system: the system context.
    :return: the version (may be empty).

    Called by ``MediaKeys.get_version`` and capability queries. Routed, firstresult.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def drm_supports_server_certificate(system: SystemContext) -> bool | None:
    """Tell whether the CDM accepts a server certificate.

    :param system: the system context.
    :return: ``True`` / ``False``.

    Called by capability queries. Routed, firstresult.
    """
    raise NotImplementedError


@hookspec
def drm_set_server_certificate(system: SystemContext, certificate: bytes) -> None:
    """Give the CDM a license-server certificate.

    :param system: the system context.
    :param certificate: the certificate bytes (non-empty).

    Called by ``MediaKeys.set_server_certificate``; raise ``NotSupportedError`` if unsupported.
    Routed.
    """


@hookspec
def drm_delete_drm_store(system: SystemContext) -> None:
    """Delete the key system's DRM (secure) store.

    :param system: the system context.

    Called by ``MediaKeys.delete_drm_store``. Routed.
    """


@hookspec
def drm_delete_key_store(system: SystemContext) -> None:
    """Delete the key system's key store.

    :param system: the system context.

    Called by ``MediaKeys.delete_key_store``. Routed.
    """


@hookspec(firstresult=True)
def drm_get_drm_store_hash(system: SystemContext) -> bytes | None:
    """Return the hash of the DRM (secure) store.

    :param system: the system context.
    :return: the hash bytes.

    Called by ``MediaKeys.get_drm_store_hash``. Routed, firstresult.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def drm_get_key_store_hash(system: SystemContext) -> bytes | None:
    """Return the hash of the key store.

    :param system: the system context.
    :return: the hash bytes.

    Called by ``MediaKeys.get_key_store_hash``. Routed, firstresult.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def drm_get_drm_time(system: SystemContext) -> int | None:
    """Return the DRM clock (seconds since the epoch for PlayReady).

    :param system: the system context.
    :return: the DRM time.

    Called by ``MediaKeys.get_drm_time``. Routed, firstresult.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def drm_get_ldl_session_limit(system: SystemContext) -> int | None:
    """Return how many limited-duration-license sessions the CDM allows.

    :param system: the system context.
    :return: the limit.

    Called by ``MediaKeys.get_ldl_session_limit``. Routed, firstresult.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def drm_get_metric_system_data(system: SystemContext) -> bytes | None:
    """Return the CDM's metric data blob.

    :param system: the system context.
    :return: the metric bytes; raise ``BufferTooSmallError`` if they do not fit the HAL's
        largest buffer.

    Called by ``MediaKeys.get_metric_system_data``. Routed, firstresult.
    """
    raise NotImplementedError


# --------------------------------------------------------------------------------------------
# Session level (one per key session; ordered per session, concurrent across sessions)
# --------------------------------------------------------------------------------------------


@hookspec
def drm_create_session(session: SessionContext) -> None:
    """Prepare the plugin's state for a new key session.

    :param session: the new session's :class:`~drmkit.sdk.model.SessionContext`
        (``session.session_type`` is already checked against the declared capabilities).

    Called by ``MediaKeys.create_session``. The generic OCDM mapping does nothing here: the CDM
    session is constructed on the first generate request. Routed.
    """


@hookspec
def drm_generate_request(
    session: SessionContext,
    init_data_type: str,
    init_data: bytes,
    ldl_state: LimitedDurationLicense,
) -> None:
    """Start the license exchange: validate init data and make the CDM produce a challenge.

    :param session: the session context.
    :param init_data_type: one of the declared init data types (``"cenc"``, ``"keyids"``, ...).
    :param init_data: the init data (non-empty, at most 64 KiB; check its syntax and raise
        ``InvalidInitDataError`` before it reaches the CDM).
    :param ldl_state: the limited-duration-license request (PlayReady/Netflix only).

    Called by ``KeySession.generate_request``. The challenge reaches the core through
    ``session.callbacks.on_challenge`` (the first one after this call is a license request), or
    the plugin pulls it and calls ``on_challenge`` itself. Routed.
    """


@hookspec
def drm_load_session(session: SessionContext, cdm_session_id: str) -> None:
    """Load a persistent session.

    :param session: the session context.
    :param cdm_session_id: the CDM key session id to load (from an earlier
        ``drm_get_cdm_key_session_id``); empty to load the session's own constructed CDM session.

    Called by ``KeySession.load``. Routed.
    """


@hookspec
def drm_update_session(session: SessionContext, response: bytes) -> None:
    """Give the CDM a license (or renewal / release acknowledgement).

    :param session: the session context.
    :param response: the license server's response (non-empty, at most 64 KiB; check its syntax
        and raise ``InvalidLicenseError`` before it reaches the CDM).

    Called by ``KeySession.update``. Key statuses reach the core through
    ``session.callbacks.on_key_update`` / ``on_keys_updated``. Routed.
    """


@hookspec
def drm_close_session(session: SessionContext) -> None:
    """Close the CDM session (keys become unusable; the session can only be released after).

    :param session: the session context.

    Called by ``KeySession.close``, or later, when the last decrypt reference is dropped, if
    decrypts held the session. Routed.
    """


@hookspec
def drm_remove_session(session: SessionContext) -> None:
    """Remove the session's stored license (persistent sessions); events keep flowing after.

    :param session: the session context.

    Called by ``KeySession.remove``. Routed.
    """


@hookspec
def drm_release_session(session: SessionContext) -> None:
    """Free every CDM resource of the session (destruct the CDM session).

    :param session: the session context; ``session.cdm`` may be ``None`` (never constructed).

    Called by ``KeySession.release`` (possibly deferred until decrypt references are dropped), by
    ``MediaKeys.destroy`` and on the switch to Inactive. Must be idempotent, must not raise for an
    unconstructed session, and must guarantee no CDM callback for the session afterwards. Routed.
    """


@hookspec(firstresult=True)
def drm_contains_key(session: SessionContext, key_id: bytes) -> bool | None:
    """Tell whether the session holds ``key_id``.

    :param session: the session context (constructed).
    :param key_id: the key id (1..512 bytes).
    :return: ``True`` / ``False``.

    Called by ``KeySession.contains_key``. Routed, firstresult.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def drm_get_key_status(session: SessionContext, key_id: bytes) -> KeyStatus | None:
    """Return the current status of ``key_id`` in the session.

    :param session: the session context (constructed).
    :param key_id: the key id the CDM reported through ``on_key_update``.
    :return: the :class:`~drmkit.events.KeyStatus`.

    Called by the core after a key-update callback (on the session's worker, never inside the
    callback) to build the key-status batch. Routed, firstresult.
    """
    raise NotImplementedError


@hookspec
def drm_select_key_id(session: SessionContext, key_id: bytes) -> None:
    """Select the key the next decrypts use (PlayReady/Netflix).

    :param session: the session context.
    :param key_id: the key id.

    Called by ``KeySession.select_key_id``; the core skips the call when the key is already
    selected. Raise ``InterfaceNotImplementedError`` if the key system has no key selection.
    Routed.
    """


@hookspec
def drm_set_drm_header(session: SessionContext, header: bytes) -> None:
    """Set the DRM header (PlayReady); queue it if the CDM session is not constructed yet.

    :param session: the session context.
    :param header: the DRM header bytes.

    Called by ``KeySession.set_drm_header``. Routed.
    """


@hookspec(firstresult=True)
def drm_get_last_drm_error(session: SessionContext) -> int | None:
    """Return the CDM-specific code of the session's last error.

    :param session: the session context.
    :return: the code (0 = none).

    Called by ``KeySession.get_last_drm_error`` and after a failed decrypt. Routed, firstresult.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def drm_get_cdm_key_session_id(session: SessionContext) -> str | None:
    """Return the CDM's own key session id string.

    :param session: the session context (constructed).
    :return: the id.

    Called by ``KeySession.get_cdm_key_session_id``. Routed, firstresult.
    """
    raise NotImplementedError


@hookspec
def drm_decrypt(session: SessionContext, buffer: memoryview, params: DecryptParams) -> None:
    """Decrypt one sample in place.

    :param session: the session context (constructed, not closed).
    :param buffer: the writable sample bytes; decrypted in place.
    :param params: the sample's :class:`~drmkit.types.DecryptParams` (scheme, key id, IV,
        subsamples, pattern).

    Called by ``KeySession.decrypt`` while it holds a decrypt reference. Raise
    ``OutputRestrictedError`` for an HDCP failure. Routed.
    """
