"""The Widevine key-system plugin: the generic OCDM mapping plus what differs for Widevine.

Published as entry point ``widevine = "drmkit_widevine.plugin:plugin"`` in group
``drmkit.keysystems``. Everything not listed here comes from
:class:`drmkit.sdk.OcdmKeySystemPlugin`, through its override points:

- init data is checked before the CDM (``validate_init_data``: pssh boxes, ``WidevinePsshData``
  protobuf, ``webm``, ``keyids``), and ``keyids`` reaches the CDM as a Widevine PSSH box
  (``cdm_init_data``; OCDM Widevine reads only ``cenc`` and ``webm``);
- the CDM's callbacks go through :class:`~drmkit_widevine.session_state.WidevineCallbacks`
  (``wrap_callbacks``): the ``"<n>:Type:"`` prefix is stripped and the message type travels with
  the bare message; an empty challenge fails the generate request;
- an update is checked against the messages awaiting an answer (``prepare_license``: a renewal
  response when no renewal is pending is refused), a real license's ``SignedMessage`` envelope is
  checked, and drmkit's test licenses are checked against the session; an update that drew no
  error callback answers what was pending (``apply_license``);
- ``drmkit inspect`` gets decoded Widevine PSSH data; the conformance kit gets a license helper;
  the license server gets the test-license endpoint of the reference CDM's Widevine simulation.
"""

from __future__ import annotations

from typing import Any

from drmkit.sdk import (
    CipherMode,
    FailError,
    InvalidLicenseError,
    InvalidStateError,
    KeySessionType,
    KeySystemCapabilities,
    KeySystemInfo,
    LimitedDurationLicense,
    MessageType,
    OcdmKeySystemPlugin,
    SessionCallbacks,
    SessionContext,
    TestLicenseEndpoint,
    hookimpl,
)
from drmkit_hal import CdmProfile

from drmkit_widevine.initdata import INIT_DATA_TYPES, init_data_for_cdm, parse_init_data
from drmkit_widevine.license_helper import WidevineLicenseHelper
from drmkit_widevine.licenses import check_signed_response
from drmkit_widevine.pssh_data import WIDEVINE_SYSTEM_ID, check_for_request, decode_pssh_data
from drmkit_widevine.session_state import WidevineCallbacks, WidevineSessionState
from drmkit_widevine.simulated import check_test_license, parse_simulated_challenge

KEY_SYSTEM = "com.widevine.alpha"

ROBUSTNESS_LEVELS = (
    "",
    "SW_SECURE_CRYPTO",
    "SW_SECURE_DECODE",
    "HW_SECURE_CRYPTO",
    "HW_SECURE_DECODE",
    "HW_SECURE_ALL",
)
"""EME's Widevine robustness strings; which one a device meets is the platform CDM's matter."""

WIDEVINE = KeySystemInfo(
    key_system=KEY_SYSTEM,
    capabilities=KeySystemCapabilities(
        init_data_types=INIT_DATA_TYPES,
        session_types=frozenset({KeySessionType.TEMPORARY, KeySessionType.PERSISTENT_LICENCE}),
        encryption_schemes=frozenset(CipherMode),
        robustness_levels=ROBUSTNESS_LEVELS,
        server_certificate=True,
    ),
    system_ids=(WIDEVINE_SYSTEM_ID,),
    description="Widevine (cenc pssh with WidevinePsshData, webm and keyids init data)",
)

TEST_LICENSE_ENDPOINT = TestLicenseEndpoint(
    path="/refcdm/widevine/license",
    key_system=KEY_SYSTEM,
    key_systems=frozenset({KEY_SYSTEM}),
    parse_challenge=parse_simulated_challenge,
)
"""The license server's route for the reference CDM's Widevine test challenges."""

_ANSWERS = {
    "license-request": (MessageType.LICENSE_REQUEST, None),
    "license-renewal": (MessageType.LICENSE_RENEWAL,),
}


class WidevinePlugin(OcdmKeySystemPlugin):
    """Widevine on the generic OCDM mapping."""

    key_systems = (WIDEVINE,)
    session_state_type = WidevineSessionState
    test_license_endpoints = (TEST_LICENSE_ENDPOINT,)

    def validate_init_data(self, init_data_type: str, init_data: bytes) -> None:
        """Parse the init data for its type (``InvalidInitDataError`` when malformed)."""
        parse_init_data(init_data_type, init_data)

    def cdm_init_data(
        self, profile: CdmProfile, init_data_type: str, init_data: bytes
    ) -> tuple[str, bytes]:
        """Give the CDM ``keyids`` as a Widevine PSSH box (it reads only ``cenc`` and ``webm``)."""
        return init_data_for_cdm(init_data_type, init_data)

    def wrap_callbacks(
        self, session: SessionContext, callbacks: SessionCallbacks
    ) -> WidevineCallbacks:
        """Put the Widevine filter (prefix, message types, pending messages) before the core."""
        return WidevineCallbacks(callbacks, WidevineSessionState.of(session))

    def prepare_license(self, session: SessionContext, response: bytes) -> bytes:
        """Check ``response`` and return what to give the CDM.

        A drmkit test license must be for this session (one naming no session gets this
        session's id) and may only answer a message that is pending. Anything else must be a
        Widevine ``SignedMessage`` response (its envelope is checked; the CDM verifies the rest)
        and goes to the CDM untouched.
        """
        state = WidevineSessionState.of(session)
        parsed = check_test_license(response, TEST_LICENSE_ENDPOINT.key_systems)
        if parsed is None:
            # Provisioning responses answer individualization requests in their own format.
            if MessageType.INDIVIDUALIZATION_REQUEST not in state.pending():
                check_signed_response(response)
            return response
        own_id = str(self._cdm(session).session_id)
        if parsed.session_id is None:
            response = parsed.addressed_to(own_id)
        elif parsed.session_id != own_id:
            raise InvalidLicenseError(
                f"the license is for CDM session {parsed.session_id!r}, not this session"
                f" ({own_id!r})"
            )
        if parsed.answers is not None:
            pending = state.pending()
            if not any(kind in pending for kind in _ANSWERS[parsed.answers]):
                shown = ", ".join(_name(p) for p in pending) or "nothing"
                raise InvalidStateError(
                    f"the response answers a {parsed.answers} but none is pending"
                    f" (pending: {shown})"
                )
        return response

    def apply_license(self, session: SessionContext, response: bytes) -> None:
        """``opencdm_session_update``; one that drew no error callback answers what was pending."""
        state = WidevineSessionState.of(session)
        errors_before = state.errors_seen
        super().apply_license(session, response)
        if state.errors_seen == errors_before:
            state.answered()

    @hookimpl
    def drm_generate_request(
        self,
        session: SessionContext,
        init_data_type: str,
        init_data: bytes,
        ldl_state: LimitedDurationLicense,
    ) -> None:
        """Run the generic request; an empty challenge from the CDM fails it."""
        state = WidevineSessionState.of(session)
        empty_before = state.empty_challenges
        super().drm_generate_request(session, init_data_type, init_data, ldl_state)
        if state.empty_challenges != empty_before:
            # Nothing can answer an empty challenge: drop the CDM session so that the
            # application may try again with other init data.
            self.drm_release_session(session)
            raise FailError("the Widevine CDM could not generate a license request")

    # -- discovery ---------------------------------------------------------------------------

    @hookimpl
    def drm_describe_init_data(self, system_id: bytes, data: bytes) -> dict[str, Any] | None:
        """Decode Widevine PSSH data for ``drmkit inspect`` (never raises)."""
        if bytes(system_id) != WIDEVINE_SYSTEM_ID:
            return None
        description: dict[str, Any] = {
            "system": "Widevine",
            "key_systems": [KEY_SYSTEM],
            "data_size": len(data),
        }
        try:
            header = decode_pssh_data(bytes(data))
            description.update(header.as_dict())
            check_for_request(header)
        except Exception as exc:  # a description must not fail on any input
            description["error"] = str(exc)
        return description

    @hookimpl
    def drm_license_helper(self, key_system: str) -> WidevineLicenseHelper:
        """Return the test-license builder for the reference CDM's Widevine simulation."""
        return WidevineLicenseHelper()


def _name(kind: MessageType | None) -> str:
    return "an unclassified message" if kind is None else kind.name.lower().replace("_", "-")


plugin = WidevinePlugin()
"""The plugin object the entry point names."""
