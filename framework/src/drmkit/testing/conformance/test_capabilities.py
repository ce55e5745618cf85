"""Conformance: capability queries, MediaKeys creation, Inactive/Active (RC-CORE-KEYSCAP)."""

from __future__ import annotations

from collections.abc import Awaitable

import pytest
from drmkit.core import (
    BadSessionIdError,
    InvalidInputError,
    InvalidStateError,
    MediaKeysApi,
    NotSupportedError,
)
from drmkit.core.api import MediaKeysFactoryApi
from drmkit.errors import InterfaceNotImplementedError
from drmkit.sdk.model import LicenseHelper
from drmkit.testing.flows import license_session
from drmkit.testing.refcdm import RefCdmControl

# Marked for pytest-asyncio explicitly: a vendor's repository need not set asyncio_mode.
pytestmark = [pytest.mark.drmkit_conformance, pytest.mark.asyncio]


async def test_capabilities_obtainable(
    media_keys_factory: MediaKeysFactoryApi, drmkit_key_system: str
) -> None:
    assert drmkit_key_system in media_keys_factory.supported_key_systems()
    assert media_keys_factory.supports_key_system(drmkit_key_system)
    capabilities = media_keys_factory.capabilities(drmkit_key_system)
    assert capabilities.init_data_types
    assert capabilities.session_types
    assert isinstance(media_keys_factory.supported_robustness_levels(drmkit_key_system), list)


async def test_supports_key_system_consistent_with_list(
    media_keys_factory: MediaKeysFactoryApi,
) -> None:
    for key_system in media_keys_factory.supported_key_systems():
        assert media_keys_factory.supports_key_system(key_system)
    for unknown in ("com.example.none", "", "ORG.W3.CLEARKEY"):
        assert media_keys_factory.supports_key_system(unknown) is False  # false, not an error
    assert media_keys_factory.supports_key_system(None) is False  # type: ignore[arg-type]


async def test_supported_key_system_version(
    media_keys_factory: MediaKeysFactoryApi, drmkit_key_system: str
) -> None:
    version = await media_keys_factory.get_supported_key_system_version(drmkit_key_system)
    assert isinstance(version, str)
    assert await media_keys_factory.get_supported_key_system_version("com.example.none") is None


async def test_server_certificate_query_is_legal(
    media_keys_factory: MediaKeysFactoryApi, drmkit_key_system: str
) -> None:
    supported = await media_keys_factory.is_server_certificate_supported(drmkit_key_system)
    assert isinstance(supported, bool)
    declared = media_keys_factory.capabilities(drmkit_key_system).server_certificate
    assert supported is declared or not declared


# A query the key system does not offer must say so with one of these; any other error (FAIL
# included) is a defect of the plugin or CDM, and a value must have the documented type.
NOT_OFFERED = (InterfaceNotImplementedError, NotSupportedError)


async def test_store_and_maintenance_queries_answer(media_keys: MediaKeysApi) -> None:
    """RC-CORE-KEYS-011: every system-level query answers a typed value or "not offered"."""
    queries: list[tuple[str, Awaitable[object], type | tuple[type, ...]]] = [
        ("get_drm_time", media_keys.get_drm_time(), int),
        ("get_metric_system_data", media_keys.get_metric_system_data(), bytes),
        ("get_ldl_session_limit", media_keys.get_ldl_session_limit(), int),
        ("get_drm_store_hash", media_keys.get_drm_store_hash(), bytes),
        ("get_key_store_hash", media_keys.get_key_store_hash(), bytes),
        ("delete_drm_store", media_keys.delete_drm_store(), type(None)),
        ("delete_key_store", media_keys.delete_key_store(), type(None)),
        ("get_version", media_keys.get_version(), str),
    ]
    for name, query, expected in queries:
        try:
            value = await query
        except NOT_OFFERED:
            continue
        assert isinstance(value, expected), f"{name} answered {value!r}"


async def test_inactive_frees_everything_and_refuses_media_keys(
    media_keys_factory: MediaKeysFactoryApi,
    drmkit_key_system: str,
    license_helper: LicenseHelper,
    refcdm: RefCdmControl,
) -> None:
    baseline = refcdm.stats()
    media_keys = await media_keys_factory.create_media_keys(drmkit_key_system)
    licensed = await license_session(media_keys, license_helper)
    assert refcdm.stats()["sessions"] > baseline["sessions"]
    await media_keys_factory.set_active(False)
    stats = refcdm.stats()
    assert stats["sessions"] == baseline["sessions"]
    assert stats["systems"] == baseline["systems"]
    assert media_keys.destroyed
    with pytest.raises(InvalidStateError):
        await media_keys_factory.create_media_keys(drmkit_key_system)
    with pytest.raises(InvalidStateError):
        await media_keys.create_session()
    assert media_keys_factory.supported_key_systems() == []
    assert not media_keys_factory.supports_key_system(drmkit_key_system)
    assert licensed.session.id not in media_keys.session_ids
    await media_keys_factory.set_active(True)
    again = await media_keys_factory.create_media_keys(drmkit_key_system)
    await license_session(again, license_helper)
    await again.destroy()


async def test_destroying_one_media_keys_leaves_another_of_the_same_key_system(
    media_keys_factory: MediaKeysFactoryApi,
    drmkit_key_system: str,
    license_helper: LicenseHelper,
) -> None:
    first = await media_keys_factory.create_media_keys(drmkit_key_system)
    licensed = await license_session(first, license_helper)
    kid = next(iter(licensed.keys))
    second = await media_keys_factory.create_media_keys(drmkit_key_system)
    await license_session(second, license_helper)
    await second.destroy()
    assert await media_keys_factory.get_supported_key_system_version(drmkit_key_system) is not None
    assert await licensed.session.contains_key(kid)
    await licensed.session.update(license_helper.build_license(b"", licensed.keys))
    assert await licensed.session.get_cdm_key_session_id()
    await first.destroy()


async def test_server_certificate_refused_when_not_declared(media_keys: MediaKeysApi) -> None:
    """EME A4: a key system without server certificates refuses one with a typed error."""
    with pytest.raises(InvalidInputError):
        await media_keys.set_server_certificate(b"")
    if not media_keys.capabilities.server_certificate:
        with pytest.raises(NotSupportedError):
            await media_keys.set_server_certificate(b"certificate")


async def test_media_keys_are_found_by_handle_until_destroyed(
    media_keys_factory: MediaKeysFactoryApi, drmkit_key_system: str
) -> None:
    """``get_media_keys(handle)``: the live MediaKeys, ``BAD_SESSION_ID`` once it is destroyed."""
    media_keys = await media_keys_factory.create_media_keys(drmkit_key_system)
    assert media_keys_factory.get_media_keys(media_keys.handle) is media_keys
    assert media_keys in media_keys_factory.media_keys
    await media_keys.destroy()
    with pytest.raises(BadSessionIdError):
        media_keys_factory.get_media_keys(media_keys.handle)
    assert media_keys not in media_keys_factory.media_keys
