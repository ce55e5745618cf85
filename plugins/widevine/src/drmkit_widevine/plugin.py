"""The Widevine key-system plugin: the generic OCDM mapping plus what differs for Widevine.

Published as entry point ``widevine = "drmkit_widevine.plugin:plugin"`` in group
``drmkit.keysystems``. Everything not listed here comes from
:class:`drmkit.sdk.OcdmKeySystemPlugin`:

- init data is checked before the CDM (pssh boxes, ``WidevinePsshData`` protobuf, ``webm``,
  ``keyids``), and ``keyids`` reaches the CDM as a Widevine PSSH box (OCDM Widevine reads only
  ``cenc`` and ``webm``);
- the CDM's callbacks go through :class:`~drmkit_widevine.session_state.WidevineCallbacks`:
  the ``"<n>:Type:"`` prefix is stripped and the message type travels with the bare message; an
  empty challenge fails the generate request;
- an update is checked against the messages awaiting an answer (a renewal response when no
  renewal is pending is refused), a real license's ``SignedMessage`` envelope is checked, and
  drmkit's test licenses are checked against the session;
- ``drmkit inspect`` gets decoded Widevine PSSH data; the conformance kit gets a license helper.
"""

from __future__ import annotations

import logging
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
    SessionContext,
    hookimpl,
    license_type_for,
)
from drmkit_hal import CdmSession, LicenseType

from drmkit_widevine.initdata import INIT_DATA_TYPES, init_data_for_cdm, parse_init_data
from drmkit_widevine.license_helper import WidevineLicenseHelper
from drmkit_widevine.licenses import check_signed_response
from drmkit_widevine.pssh_data import WIDEVINE_SYSTEM_ID, check_for_request, decode_pssh_data
from drmkit_widevine.session_state import WidevineCallbacks, WidevineSessionState
from drmkit_widevine.simulated import check_test_license

log = logging.getLogger(__name__)

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

_ANSWERS = {
    "license-request": (MessageType.LICENSE_REQUEST, None),
    "license-renewal": (MessageType.LICENSE_RENEWAL,),
}


class WidevinePlugin(OcdmKeySystemPlugin):
    """Widevine on the generic OCDM mapping."""

    key_systems = (WIDEVINE,)

    def validate_init_data(self, init_data_type: str, init_data: bytes) -> None:
        """Parse the init data for its type (``InvalidInitDataError`` when malformed)."""
        parse_init_data(init_data_type, init_data)

    def validate_license(self, session: SessionContext, response: bytes) -> None:
        """Check a drmkit test license against the session and the pending messages."""
        self.prepare_license(session, response)

    def prepare_license(self, session: SessionContext, response: bytes) -> bytes:
        """Check ``response`` and return what to give the CDM.

        A drmkit test license must be for this session (one naming no session gets this
        session's id) and may only answer a message that is pending. Anything else must be a
        Widevine ``SignedMessage`` response (its envelope is checked; the CDM verifies the rest)
        and goes to the CDM untouched.
        """
        parsed = check_test_license(response, frozenset({KEY_SYSTEM}))
        if parsed is None:
            # Provisioning responses answer individualization requests in their own format.
            if MessageType.INDIVIDUALIZATION_REQUEST not in _state(session).pending():
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
            pending = _state(session).pending()
            if not any(kind in pending for kind in _ANSWERS[parsed.answers]):
                shown = ", ".join(_name(p) for p in pending) or "nothing"
                raise InvalidStateError(
                    f"the response answers a {parsed.answers} but none is pending"
                    f" (pending: {shown})"
                )
        return response

    # -- session hooks that differ -----------------------------------------------------------

    @hookimpl
    def drm_create_session(self, session: SessionContext) -> None:
        """Give the session its Widevine state."""
        session.state = WidevineSessionState()

    @hookimpl
    def drm_generate_request(
        self,
        session: SessionContext,
        init_data_type: str,
        init_data: bytes,
        ldl_state: LimitedDurationLicense,
    ) -> None:
        """Check the init data, construct the CDM session; an empty challenge fails the call."""
        parsed = parse_init_data(init_data_type, init_data)
        if session.cdm is not None:
            return
        cdm_type, cdm_data = init_data_for_cdm(parsed, init_data)
        state = _state(session)
        empty_before = state.empty_challenges
        self.construct_session(session, cdm_type, cdm_data)
        if state.empty_challenges != empty_before:
            # Nothing can answer an empty challenge: drop the CDM session so that the
            # application may try again with other init data.
            self.drm_release_session(session)
            raise FailError("the Widevine CDM could not generate a license request")

    def construct_session(
        self,
        session: SessionContext,
        init_data_type: str,
        init_data: bytes,
        cdm_data: bytes = b"",
    ) -> CdmSession:
        """``opencdm_construct_session`` with the Widevine callback filter in between."""
        callbacks = WidevineCallbacks(session.callbacks, _state(session))
        cdm = self._system(session.system).construct_session(
            LicenseType(license_type_for(session.session_type)),
            init_data_type,
            init_data,
            cdm_data,
            callbacks,
        )
        session.cdm = cdm
        return cdm

    @hookimpl
    def drm_update_session(self, session: SessionContext, response: bytes) -> None:
        """Check the response, ``opencdm_session_update``; success answers what was pending."""
        response = self.prepare_license(session, response)
        state = _state(session)
        errors_before = state.errors_seen
        self._cdm(session).update(response)
        if state.errors_seen == errors_before:
            state.answered()

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


def _state(session: SessionContext) -> WidevineSessionState:
    state = session.state
    if not isinstance(state, WidevineSessionState):  # a session created before the plugin's hook
        state = session.state = WidevineSessionState()
    return state


def _name(kind: MessageType | None) -> str:
    return "an unclassified message" if kind is None else kind.name.lower().replace("_", "-")


plugin = WidevinePlugin()
"""The plugin object the entry point names."""
