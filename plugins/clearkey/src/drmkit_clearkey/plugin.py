"""The Clear Key key-system plugin: the generic OCDM mapping plus Clear Key's syntax checks.

Published as entry point ``clearkey = "drmkit_clearkey.plugin:plugin"`` in group
``drmkit.keysystems``. Everything but init-data/license validation, PSSH description and the
license helper comes from :class:`drmkit.sdk.OcdmKeySystemPlugin`.

It also carries what real Clear Key CDMs get wrong, driven by the loaded CDM's profile
(``docs/platforms.md``): init data the CDM does not parse right is sent as Common PSSH, licenses
with more keys than the CDM takes at once are applied key by key, keys the CDM cannot use are
refused, and every key of a license must be usable afterwards, so a license the CDM silently
dropped is an error rather than a session that never decrypts.
"""

from __future__ import annotations

from typing import Any

from drmkit.sdk import (
    COMMON_SYSTEM_ID,
    CipherMode,
    FailError,
    InvalidLicenseError,
    KeySessionType,
    KeySystemCapabilities,
    KeySystemInfo,
    NotSupportedError,
    OcdmKeySystemPlugin,
    SessionContext,
    hookimpl,
)
from drmkit_hal import CdmProfile, OcdmKeyStatus

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
    system_ids=(COMMON_SYSTEM_ID,),
    description="W3C Clear Key (keyids, cenc and webm init data; JWK-set licenses)",
)


class ClearKeyPlugin(OcdmKeySystemPlugin):
    """Clear Key on the generic OCDM mapping."""

    key_systems = (CLEARKEY,)

    def validate_init_data(self, init_data_type: str, init_data: bytes) -> None:
        """Parse the init data for its type (keyids JSON, Common PSSH, webm key id)."""
        formats.parse_init_data(init_data_type, init_data)

    def validate_license(self, session: SessionContext, response: bytes) -> None:
        """Parse the JWK set; its ``type`` must match the session type; keys must be usable.

        A key the loaded CDM cannot use (its profile's ``unusable_key_bytes``) is
        ``NotSupportedError``: that CDM would decrypt with it to garbage and report success.
        """
        parsed = formats.parse_license(response)
        persistent = session.session_type is KeySessionType.PERSISTENT_LICENCE
        if parsed.release_ack_key_ids and not persistent:
            raise InvalidLicenseError("a release acknowledgement needs a persistent session")
        expected = "persistent-license" if persistent else "temporary"
        if parsed.license_type is not None and parsed.license_type != expected:
            raise InvalidLicenseError(
                f"a {parsed.license_type!r} license cannot be used in a {expected} session"
            )
        profile = session.system.profile
        for kid, key in parsed.keys.items():
            reason = profile.unusable_key_reason(key)
            if reason is not None:
                raise NotSupportedError(f"the key of key id {kid.hex()} is refused: {reason}")

    # -- the loaded CDM ------------------------------------------------------------------------

    def cdm_init_data_types(self, declared: frozenset[str], profile: CdmProfile) -> frozenset[str]:
        """Every declared type when the CDM parses Common PSSH (the others are translated)."""
        if profile.parses_init_data_type("cenc"):
            return declared
        return super().cdm_init_data_types(declared, profile)

    def cdm_init_data(
        self, profile: CdmProfile, init_data_type: str, init_data: bytes
    ) -> tuple[str, bytes]:
        """Send ``keyids``/``webm`` init data as Common PSSH v1 to a CDM that misparses them."""
        if profile.parses_init_data_type(init_data_type) or not profile.parses_init_data_type(
            "cenc"
        ):
            return init_data_type, init_data
        key_ids = formats.parse_init_data(init_data_type, init_data)
        short = [k.hex() for k in key_ids if len(k) != 16]
        if short:
            raise NotSupportedError(
                f"the {profile.name} CDM takes key ids only in Common PSSH, which holds 16-byte"
                f" ids; {init_data_type} init data names {', '.join(short)}"
            )
        return "cenc", formats.make_common_pssh(key_ids)

    def apply_license(self, session: SessionContext, response: bytes) -> None:
        """Update the CDM with the license in its canonical form, then check every key.

        The CDM gets the JWK set as :func:`~drmkit_clearkey.formats.make_license` writes it
        (``keys`` first, nothing else: OCDM-Clearkey ignores a set whose first member is not
        ``keys``), key by key where its profile takes fewer keys per license. A release
        acknowledgement goes as it came. Every key must be usable afterwards: a CDM that ignored a
        license it could not parse (and reported success) gives ``FailError`` here, not a session
        that decrypts nothing.
        """
        cdm = self._cdm(session)
        parsed = formats.parse_license(response)
        if not parsed.keys:
            cdm.update(response)
            return
        license_type = parsed.license_type or (
            "persistent-license"
            if session.session_type is KeySessionType.PERSISTENT_LICENCE
            else "temporary"
        )
        kids = list(parsed.keys)
        limit = session.system.profile.max_keys_per_license or len(kids)
        chunks = [kids[start : start + limit] for start in range(0, len(kids), limit)]
        if len(chunks) == 1:
            cdm.update(formats.make_license(parsed.keys, license_type))
        else:
            gate = self.key_batch(session)
            gate.hold()
            try:
                for chunk in chunks:
                    cdm.update(
                        formats.make_license({k: parsed.keys[k] for k in chunk}, license_type)
                    )
            finally:
                gate.release()
        for kid in parsed.keys:
            if len(kid) != 16:
                continue  # the OCDM ABI cannot name such a key: nothing to check it with
            status = cdm.status(kid)
            if status is not OcdmKeyStatus.USABLE:
                raise FailError(
                    f"the CDM did not take the key of key id {kid.hex()} (its status is"
                    f" {status.name} after the update)"
                )

    @hookimpl
    def drm_describe_init_data(self, system_id: bytes, data: bytes) -> dict[str, Any] | None:
        """Describe Common-system PSSH data (it carries no payload: the key ids are in the box)."""
        if system_id != COMMON_SYSTEM_ID:
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
