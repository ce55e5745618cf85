"""Builds Clear Key test init data and JWK-set licenses (conformance kit, demos, license server)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from drmkit.sdk import BaseLicenseHelper, KeySessionType

from drmkit_clearkey import formats


class ClearKeyLicenseHelper(BaseLicenseHelper):
    """Implements :class:`drmkit.sdk.markers.LicenseHelper` for Clear Key."""

    def init_data(self, key_ids: Sequence[bytes]) -> list[tuple[str, bytes]]:
        """Return keyids, cenc (Common PSSH v1, 16-byte ids only) and webm (one id) init data."""
        pairs = [("keyids", formats.make_keyids(key_ids))]
        if all(len(k) == 16 for k in key_ids):
            pairs.append(("cenc", formats.make_common_pssh(key_ids)))
        if len(key_ids) == 1:
            pairs.append(("webm", bytes(key_ids[0])))
        return pairs

    def build_license(
        self,
        request: bytes,
        keys: Mapping[bytes, bytes],
        session_type: KeySessionType = KeySessionType.TEMPORARY,
    ) -> bytes:
        """Return a JWK set with the requested keys that ``keys`` holds (all if none match)."""
        wanted = set(self.key_ids_of_request(request)) if request else set()
        chosen = {k: v for k, v in keys.items() if k in wanted} or dict(keys)
        license_type = (
            "persistent-license"
            if session_type is KeySessionType.PERSISTENT_LICENCE
            else "temporary"
        )
        return formats.make_license(chosen, license_type)

    def key_ids_of_request(self, request: bytes) -> list[bytes]:
        """Return the key ids a Clear Key license request names."""
        return formats.request_key_ids(request)
