"""License endpoints for the reference CDM's simulated key systems (Widevine, PlayReady, Netflix).

The request and license formats are the reference CDM's documented test formats
(``docs/reference-cdm.md``); a device's real CDM replaces them and talks to a real license server.
"""

from __future__ import annotations

from drmkit.license_server.app import LicenseEndpoint

SIMULATED_ENDPOINTS: tuple[LicenseEndpoint, ...] = ()
