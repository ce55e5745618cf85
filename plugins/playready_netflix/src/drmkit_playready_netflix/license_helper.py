"""Builds PlayReady test init data and test licenses (conformance kit, demo, plugin tests).

Licenses are drmkit's test licenses for the reference CDM's PlayReady simulations (see
:mod:`drmkit_playready_netflix.licenses`); a device's CDM needs licenses from a PlayReady service.
:class:`PlayReadyLicenseHelper` serves ``com.microsoft.playready``; :class:`NetflixLicenseHelper`
holds what differs for ``com.netflix.playready``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from drmkit.sdk import BaseLicenseHelper, DemoStep, KeySessionType

from drmkit_playready_netflix.header import build_header
from drmkit_playready_netflix.initdata import build_playready_object, build_pssh
from drmkit_playready_netflix.keysystems import NETFLIX, PLAYREADY
from drmkit_playready_netflix.licenses import build_test_license, parse_challenge


class PlayReadyLicenseHelper(BaseLicenseHelper):
    """Implements :class:`drmkit.sdk.LicenseHelper` for the simulated ``com.microsoft.playready``.

    Init data is a v4.3 WRMHEADER naming the key ids (v4.0 for exactly one key id is covered by
    the tests); ``la_url`` goes into the header's ``LA_URL``.
    """

    key_system: ClassVar[str] = PLAYREADY
    """The key system the test licenses are for."""

    def __init__(self, la_url: str | None = None) -> None:
        self.la_url = la_url

    def header(self, key_ids: Sequence[bytes], keys: Mapping[bytes, bytes] | None = None) -> bytes:
        """Return a PlayReady object whose WRMHEADER names ``key_ids`` (checksums from ``keys``)."""
        header = build_header(list(key_ids), keys=dict(keys or {}), la_url=self.la_url)
        return build_playready_object(header)

    def init_data(self, key_ids: Sequence[bytes]) -> list[tuple[str, bytes]]:
        """Return ``cenc`` (a PlayReady pssh box) and ``drmheader`` (the PlayReady object)."""
        pro = self.header(key_ids)
        return [("cenc", build_pssh(pro)), ("drmheader", pro)]

    def build_license(
        self,
        request: bytes,
        keys: Mapping[bytes, bytes],
        session_type: KeySessionType = KeySessionType.TEMPORARY,
    ) -> bytes:
        """Return a test license for the request's session (any session without a request)."""
        session_id = parse_challenge(request).session_id if request else None
        return build_test_license(self.key_system, session_id, dict(keys))

    def key_ids_of_request(self, request: bytes) -> list[bytes]:
        """Return the key ids a simulated PlayReady challenge names."""
        return list(parse_challenge(request).kids)


class NetflixLicenseHelper(PlayReadyLicenseHelper):
    """The license helper of the simulated ``com.netflix.playready``: what differs from PlayReady.

    Netflix sessions take the DRM header first; ``update`` is ``store_license_data`` and ``close``
    starts with ``cancel_challenge_data``; ``drmkit demo`` runs the Netflix DPI flow.
    """

    key_system: ClassVar[str] = NETFLIX

    def init_data(self, key_ids: Sequence[bytes]) -> list[tuple[str, bytes]]:
        """Return ``drmheader`` (the PlayReady object) and ``cenc`` (it in a PlayReady pssh box)."""
        return super().init_data(key_ids)[::-1]

    @property
    def cdm_operation_aliases(self) -> Mapping[str, str]:
        """Name the CDM calls that perform generic operations (for the conformance kit's faults)."""
        return {"update": "store_license_data", "close": "cancel_challenge_data"}

    def demo_steps(self, steps: Sequence[DemoStep[Any]]) -> list[DemoStep[Any]]:
        """Swap ``drmkit demo``'s session steps for the Netflix DPI flow."""
        from drmkit_playready_netflix.demo import netflix_demo_steps  # demo imports this module

        return netflix_demo_steps(steps)
