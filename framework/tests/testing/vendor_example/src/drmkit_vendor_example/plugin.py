"""Clear Key on the generic OCDM mapping, with a license helper of its own (JWK sets)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence

from drmkit.sdk import (
    BaseLicenseHelper,
    CipherMode,
    InvalidInitDataError,
    InvalidLicenseError,
    KeySessionType,
    KeySystemCapabilities,
    KeySystemInfo,
    LicenseHelper,
    OcdmKeySystemPlugin,
    hookimpl,
)

KEY_SYSTEM = "org.w3.clearkey"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class VendorLicenseHelper(BaseLicenseHelper):
    """Key-id init data and JWK-set licenses, as a Clear Key license server makes them."""

    def init_data(self, key_ids: Sequence[bytes]) -> list[tuple[str, bytes]]:
        return [("keyids", json.dumps({"kids": [_b64url(k) for k in key_ids]}).encode())]

    def build_license(
        self,
        request: bytes,
        keys: Mapping[bytes, bytes],
        session_type: KeySessionType = KeySessionType.TEMPORARY,
    ) -> bytes:
        persistent = session_type is KeySessionType.PERSISTENT_LICENCE
        jwks = [{"kty": "oct", "kid": _b64url(k), "k": _b64url(v)} for k, v in keys.items()]
        kind = "persistent-license" if persistent else "temporary"
        return json.dumps({"keys": jwks, "type": kind}).encode()

    def key_ids_of_request(self, request: bytes) -> list[bytes]:
        try:
            return [_unb64url(k) for k in json.loads(request)["kids"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidLicenseError(f"not a Clear Key license request: {exc}") from exc


class VendorClearKeyPlugin(OcdmKeySystemPlugin):
    """The vendor's Clear Key: keyids init data, temporary sessions, cenc."""

    key_systems = (
        KeySystemInfo(
            key_system=KEY_SYSTEM,
            capabilities=KeySystemCapabilities(
                init_data_types=frozenset({"keyids"}),
                session_types=frozenset({KeySessionType.TEMPORARY}),
                encryption_schemes=frozenset({CipherMode.CENC}),
            ),
            description="a vendor's Clear Key",
        ),
    )

    def validate_init_data(self, init_data_type: str, init_data: bytes) -> None:
        try:
            kids = json.loads(init_data)["kids"]
            if not kids or not all(isinstance(k, str) and _unb64url(k) for k in kids):
                raise ValueError("no key ids")
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInitDataError(f"bad keyids init data: {exc}") from exc

    def validate_license(self, session: object, response: bytes) -> None:
        try:
            keys = json.loads(response)["keys"]
            if not isinstance(keys, list) or not keys:
                raise ValueError("no keys")
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidLicenseError(f"bad JWK set: {exc}") from exc

    @hookimpl
    def drm_license_helper(self, key_system: str) -> LicenseHelper:
        return VendorLicenseHelper()


plugin = VendorClearKeyPlugin()
