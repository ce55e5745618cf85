"""Builds PlayReady test init data and test licenses (conformance kit, demo, plugin tests).

Licenses are drmkit's test licenses for the reference CDM's PlayReady simulations (see
:mod:`drmkit_playready_netflix.licenses`); a device's CDM needs licenses from a PlayReady service.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from drmkit.sdk import BaseLicenseHelper, DemoStep, KeySessionType

from drmkit_playready_netflix.header import build_header
from drmkit_playready_netflix.initdata import build_playready_object, build_pssh
from drmkit_playready_netflix.licenses import build_test_license, parse_challenge


class PlayReadyLicenseHelper(BaseLicenseHelper):
    """Implements :class:`drmkit.sdk.markers.LicenseHelper` for one simulated PlayReady key system.

    Init data is a v4.3 WRMHEADER naming the key ids (v4.0 for exactly one key id is covered by
    the tests); ``la_url`` goes into the header's ``LA_URL``.
    """

    def __init__(self, key_system: str, la_url: str | None = None) -> None:
        self.key_system = key_system
        self.la_url = la_url

    def header(self, key_ids: Sequence[bytes], keys: Mapping[bytes, bytes] | None = None) -> bytes:
        """Return a PlayReady object whose WRMHEADER names ``key_ids`` (checksums from ``keys``)."""
        header = build_header(list(key_ids), keys=dict(keys or {}), la_url=self.la_url)
        return build_playready_object(header)

    def init_data(self, key_ids: Sequence[bytes]) -> list[tuple[str, bytes]]:
        """Return ``drmheader`` (a PlayReady object) and ``cenc`` (it in a PlayReady pssh box)."""
        pro = self.header(key_ids)
        pairs = [("drmheader", pro), ("cenc", build_pssh(pro))]
        return pairs if self.key_system == "com.netflix.playready" else pairs[::-1]

    def build_license(
        self,
        request: bytes,
        keys: Mapping[bytes, bytes],
        session_type: KeySessionType = KeySessionType.TEMPORARY,
    ) -> bytes:
        """Return a test license for the request's session (any session without a request)."""
        session_id = parse_challenge(request).session_id if request else None
        return build_test_license(self.key_system, session_id, dict(keys))

    @property
    def cdm_operation_aliases(self) -> Mapping[str, str]:
        """Name the CDM calls that perform generic operations (for the conformance kit's faults).

        A Netflix session's ``update`` is ``store_license_data`` and its ``close`` starts with
        ``cancel_challenge_data``; standard PlayReady uses the generic calls.
        """
        if self.key_system != "com.netflix.playready":
            return {}
        return {"update": "store_license_data", "close": "cancel_challenge_data"}

    def demo_steps(self, steps: Sequence[DemoStep[Any]]) -> list[DemoStep[Any]]:
        """Adapt ``drmkit demo``'s steps: Netflix runs the DPI flow, PlayReady the generic one."""
        if self.key_system != "com.netflix.playready":
            return list(steps)
        from drmkit_playready_netflix.demo import netflix_demo_steps

        return netflix_demo_steps(steps)

    def key_ids_of_request(self, request: bytes) -> list[bytes]:
        """Return the key ids a simulated PlayReady challenge names."""
        return list(parse_challenge(request).kids)
