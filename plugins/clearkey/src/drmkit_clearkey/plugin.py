"""The Clear Key key-system plugin: the generic OCDM mapping plus Clear Key's syntax checks.

Published as entry point ``clearkey = "drmkit_clearkey.plugin:plugin"`` in group
``drmkit.keysystems``. Everything but init-data/license validation, PSSH description and the
license helper comes from :class:`drmkit.ocdm.OcdmKeySystemPlugin`.
"""

from __future__ import annotations

from typing import Any

from drmkit.core.types import CipherMode, KeySessionType
from drmkit.errors import InvalidLicenseError
from drmkit.ocdm import OcdmKeySystemPlugin
from drmkit.plugin import KeySystemCapabilities, KeySystemInfo, SessionContext, hookimpl

from drmkit_clearkey import formats
from drmkit_clearkey.license_helper import ClearKeyLicenseHelper

KEY_SYSTEM = "org.w3.clearkey"

CLEARKEY = KeySystemInfo(
    key_system=KEY_SYSTEM,
    capabilities=KeySystemCapabilities(
        init_data_types=frozenset({"cenc", "keyids", "webm"}),
        session_types=frozenset({KeySessionType.TEMPORARY, KeySessionType.PERSISTENT_LICENCE}),
        encryption_schemes=frozenset(CipherMode),
        robustness_levels=("",),
        server_certificate=False,
    ),
    system_ids=(formats.COMMON_SYSTEM_ID,),
    description="W3C Clear Key (keyids, cenc and webm init data; JWK-set licenses)",
)


class ClearKeyPlugin(OcdmKeySystemPlugin):
    """Clear Key on the generic OCDM mapping."""

    key_systems = (CLEARKEY,)

    def validate_init_data(self, init_data_type: str, init_data: bytes) -> None:
        """Parse the init data for its type (keyids JSON, Common PSSH, webm key id)."""
        formats.parse_init_data(init_data_type, init_data)

    def validate_license(self, session: SessionContext, response: bytes) -> None:
        """Parse the JWK set; its ``type`` must match the session type."""
        parsed = formats.parse_license(response)
        persistent = session.session_type is KeySessionType.PERSISTENT_LICENCE
        if parsed.release_ack_key_ids and not persistent:
            raise InvalidLicenseError("a release acknowledgement needs a persistent session")
        expected = "persistent-license" if persistent else "temporary"
        if parsed.license_type is not None and parsed.license_type != expected:
            raise InvalidLicenseError(
                f"a {parsed.license_type!r} license cannot be used in a {expected} session"
            )

    @hookimpl
    def drm_describe_init_data(self, system_id: bytes, data: bytes) -> dict[str, Any] | None:
        """Describe Common-system PSSH data (it carries no payload: the key ids are in the box)."""
        if system_id != formats.COMMON_SYSTEM_ID:
            return None
        description: dict[str, Any] = {
            "system": "W3C Common PSSH (Clear Key)",
            "key_systems": [KEY_SYSTEM],
            "data_size": len(data),
        }
        if data:
            description["note"] = "the Common PSSH box should carry no data"
        return description

    @hookimpl
    def drm_license_helper(self, key_system: str) -> ClearKeyLicenseHelper:
        """Return the JWK-set license builder."""
        return ClearKeyLicenseHelper()


plugin = ClearKeyPlugin()
"""The plugin object the entry point names."""
