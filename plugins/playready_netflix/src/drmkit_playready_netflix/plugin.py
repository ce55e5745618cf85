"""The PlayReady and Netflix PlayReady key-system plugin on the generic OCDM mapping.

Published as entry point ``playready_netflix = "drmkit_playready_netflix.plugin:plugin"`` in group
``drmkit.keysystems``. Both key systems use the OCDM extension interface (DRM header, key
selection, stores, LDL limit, DRM time); the plugin only ever serves these two key systems, so the
extension calls never reach a ClearKey or Widevine CDM session (where the real OCDM crashes).

``com.microsoft.playready`` (alias of the reference CDM: ``com.youtube.playready``) follows the
generic flow: the CDM sends its challenge during construct, with the header's ``LA_URL`` as url;
``update`` and ``close`` are the generic ones.

``com.netflix.playready`` follows the Netflix flow (Rialto's extended branch, as in the original
MKS design, selected by key system):

- a DRM header set before the CDM session exists is queued and applied after construct;
- every ``generate_request`` pulls the challenge with ``get_challenge_data`` (size pass, then data
  pass; ``is_ldl`` from the limited-duration-license state) and emits it as the license request
  with an empty url; a zero size is a ``FailError``;
- ``update`` is ``store_license_data`` (its 16-byte secure-stop id is not exposed);
- ``close`` is ``cancel_challenge_data`` then ``clean_decrypt_context``; both are attempted and a
  failure of either fails the close (Rialto only logs it: hazard "hidden failure on extended
  close");
- ``select_key_id`` reaches the CDM only when the binding changes; a sample naming a key binds it
  first (Rialto's decryptor); a sample without a key id uses the application's selected key.

Everything not listed here comes from :class:`drmkit.sdk.OcdmKeySystemPlugin`.
"""

from __future__ import annotations

import logging
from typing import Any

from drmkit.sdk import (
    PLAYREADY_SYSTEM_ID,
    CipherMode,
    DecryptParams,
    FailError,
    InvalidKeyIdError,
    InvalidLicenseError,
    InvalidStateError,
    KeySessionType,
    KeySystemCapabilities,
    KeySystemInfo,
    LimitedDurationLicense,
    MessageType,
    NotSupportedError,
    OcdmKeySystemPlugin,
    SessionContext,
    hookimpl,
    license_type_for,
)
from drmkit_hal import CdmSession, LicenseType, OcdmCallError

from drmkit_playready_netflix.header import HeaderError
from drmkit_playready_netflix.initdata import (
    INIT_DATA_TYPES,
    PlayReadyInitData,
    describe_playready_data,
    parse_init_data,
    parse_pro_or_header,
)
from drmkit_playready_netflix.license_helper import PlayReadyLicenseHelper
from drmkit_playready_netflix.licenses import check_test_license
from drmkit_playready_netflix.session_state import PlayReadyCallbacks, PlayReadySessionState

log = logging.getLogger(__name__)

PLAYREADY = "com.microsoft.playready"
NETFLIX = "com.netflix.playready"
_LICENSE_KEY_SYSTEMS = {
    PLAYREADY: frozenset({PLAYREADY, "com.youtube.playready"}),
    NETFLIX: frozenset({NETFLIX}),
}
ROBUSTNESS_LEVELS = ("", "150", "2000", "3000")
"""PlayReady security levels as EME robustness strings; which one a device meets is its CDM's."""

PLAYREADY_INFO = KeySystemInfo(
    key_system=PLAYREADY,
    capabilities=KeySystemCapabilities(
        init_data_types=INIT_DATA_TYPES,
        session_types=frozenset({KeySessionType.TEMPORARY}),
        encryption_schemes=frozenset(CipherMode),
        robustness_levels=ROBUSTNESS_LEVELS,
    ),
    system_ids=(PLAYREADY_SYSTEM_ID,),
    description="PlayReady (pssh with PlayReady objects, or a DRM header; challenge at construct)",
)
NETFLIX_INFO = KeySystemInfo(
    key_system=NETFLIX,
    capabilities=KeySystemCapabilities(
        init_data_types=INIT_DATA_TYPES,
        session_types=frozenset({KeySessionType.TEMPORARY}),
        encryption_schemes=frozenset(CipherMode),
        robustness_levels=ROBUSTNESS_LEVELS,
        repeatable_generate_request=True,
    ),
    system_ids=(PLAYREADY_SYSTEM_ID,),
    description="Netflix PlayReady (pulled challenges, stored licenses, key selection, LDL)",
)


class PlayReadyNetflixPlugin(OcdmKeySystemPlugin):
    """PlayReady and Netflix PlayReady on the generic OCDM mapping."""

    key_systems = (PLAYREADY_INFO, NETFLIX_INFO)
    extended_interface = True

    def validate_init_data(self, init_data_type: str, init_data: bytes) -> None:
        """Parse the init data for its type (``InvalidInitDataError`` when malformed)."""
        parse_init_data(init_data_type, init_data)

    def prepare_license(self, session: SessionContext, response: bytes) -> bytes:
        """Check ``response`` and return what to give the CDM.

        A test license must be for this key system and session (one naming no session gets this
        session's id), and each key must match the CHECKSUM the session's header gives for its
        KID. Anything else goes to the CDM untouched (a real PlayReady license).
        """
        parsed = check_test_license(response, _LICENSE_KEY_SYSTEMS[session.key_system])
        if parsed is None:
            return response
        init_data = _state(session).init_data
        if init_data is not None:
            for kid, key in parsed.keys.items():
                for header in init_data.headers:
                    try:
                        header.check_key(kid, key)
                    except HeaderError as exc:
                        raise InvalidLicenseError(exc.message) from None
        own_id = str(self._cdm(session).session_id)
        if parsed.session_id is None:
            return parsed.addressed_to(own_id)
        if parsed.session_id != own_id:
            raise InvalidLicenseError(
                f"the license is for CDM session {parsed.session_id!r}, not this session"
                f" ({own_id!r})"
            )
        return response

    def validate_license(self, session: SessionContext, response: bytes) -> None:
        """Check a test license against the session."""
        self.prepare_license(session, response)

    # -- session hooks that differ -----------------------------------------------------------

    @hookimpl
    def drm_create_session(self, session: SessionContext) -> None:
        """Give the session its PlayReady state."""
        session.state = PlayReadySessionState()

    @hookimpl
    def drm_generate_request(
        self,
        session: SessionContext,
        init_data_type: str,
        init_data: bytes,
        ldl_state: LimitedDurationLicense,
    ) -> None:
        """Check the init data; construct; Netflix then pulls the challenge itself."""
        parsed = parse_init_data(init_data_type, init_data)
        state = _state(session)
        if session.key_system != NETFLIX:
            if ldl_state is LimitedDurationLicense.ENABLED:  # DISABLED asks for nothing special
                raise NotSupportedError(
                    f"limited-duration licenses are requested through {NETFLIX} sessions"
                )
            if session.cdm is None:
                state.init_data = parsed
                self.construct_session(session, init_data_type, init_data)
            return
        if session.cdm is None:
            self.construct_session(session, init_data_type, parsed.pro)
            if state.init_data is None:  # no queued header replaced it
                state.init_data = parsed
        else:
            if state.init_data is None or parsed.pro != state.init_data.pro:
                session.cdm.set_drm_header(parsed.pro)
                state.init_data = parsed
            # A new request asks for a new challenge (e.g. another LDL state), not the one the
            # CDM may keep from the last pull.
            session.cdm.cancel_challenge_data()
        self._pull_challenge(session, ldl_state is LimitedDurationLicense.ENABLED)

    def _pull_challenge(self, session: SessionContext, is_ldl: bool) -> None:
        cdm = self._cdm(session)
        try:
            challenge = cdm.get_challenge_data(is_ldl)
        except OcdmCallError as exc:
            if "size is 0" in str(exc):
                raise FailError("the CDM has no license challenge to give (size 0)") from exc
            raise
        session.callbacks.on_challenge("", challenge, MessageType.LICENSE_REQUEST)

    def construct_session(
        self,
        session: SessionContext,
        init_data_type: str,
        init_data: bytes,
        cdm_data: bytes = b"",
    ) -> CdmSession:
        """``opencdm_construct_session`` behind the callback filter; then a queued header."""
        state = _state(session)
        callbacks = PlayReadyCallbacks(session.callbacks, state)
        cdm = self._system(session.system).construct_session(
            LicenseType(license_type_for(session.session_type)),
            init_data_type,
            init_data,
            cdm_data,
            callbacks,
        )
        session.cdm = cdm
        if state.queued_drm_header is not None:
            header, state.queued_drm_header = state.queued_drm_header, None
            cdm.set_drm_header(header)
        return cdm

    @hookimpl
    def drm_set_drm_header(self, session: SessionContext, header: bytes) -> None:
        """Check the header (PRO or WRMHEADER); queue it before construct, else set it."""
        parsed = parse_pro_or_header(header)
        state = _state(session)
        if session.cdm is None:
            state.queued_drm_header = parsed.pro
        else:
            session.cdm.set_drm_header(parsed.pro)
        state.init_data = parsed

    @hookimpl
    def drm_update_session(self, session: SessionContext, response: bytes) -> None:
        """Check the response; Netflix: ``store_license_data``, else ``opencdm_session_update``."""
        cdm = self._cdm(session)
        if session.key_system == NETFLIX and _state(session).init_data is None:
            raise InvalidStateError("store_license_data on a session without a DRM header")
        response = self.prepare_license(session, response)
        if session.key_system == NETFLIX:
            cdm.store_license_data(response)  # the secure-stop id stays inside (as Rialto)
        else:
            cdm.update(response)

    @hookimpl
    def drm_close_session(self, session: SessionContext) -> None:
        """Netflix: ``cancel_challenge_data`` then ``clean_decrypt_context``; failures reported."""
        if session.key_system != NETFLIX:
            self._cdm(session).close()
            return
        cdm = self._cdm(session)
        state = _state(session)
        failures = []
        for name, call in (
            ("cancel_challenge_data", cdm.cancel_challenge_data),
            ("clean_decrypt_context", cdm.clean_decrypt_context),
        ):
            try:
                call()
            except OcdmCallError as exc:
                failures.append(f"{name} failed: {exc}")
        state.selected_key_id = state.bound_key_id = None
        state.cleaned = True
        if failures:
            raise FailError("closing the Netflix session: " + "; ".join(failures))

    @hookimpl
    def drm_select_key_id(self, session: SessionContext, key_id: bytes) -> None:
        """Select the key samples without a key id use; the CDM is called only on a change."""
        _check_key_id(key_id)
        self._bind(session, key_id)
        _state(session).selected_key_id = bytes(key_id)

    def _bind(self, session: SessionContext, key_id: bytes) -> None:
        """Bind the CDM's decrypt context to ``key_id`` unless it is bound to it already."""
        state = _state(session)
        if state.bound_key_id == key_id:
            return
        self._cdm(session).select_key_id(key_id)
        state.bound_key_id = bytes(key_id)
        state.cleaned = False

    @hookimpl
    def drm_decrypt(
        self, session: SessionContext, buffer: memoryview, params: DecryptParams
    ) -> None:
        """Netflix: a sample's key id is bound first; without one, the selected key is bound.

        The application's selection (``select_key_id``) and the CDM's binding are kept apart, so
        a sample naming another key never changes which key later samples without a key id use.
        """
        if session.key_system == NETFLIX:
            if params.key_id:
                _check_key_id(params.key_id)
                self._bind(session, params.key_id)
            else:
                selected = _state(session).selected_key_id
                if selected is None:
                    raise FailError("the sample names no key and no key is selected")
                self._bind(session, selected)
        super().drm_decrypt(session, buffer, params)

    # -- discovery ---------------------------------------------------------------------------

    @hookimpl
    def drm_describe_init_data(self, system_id: bytes, data: bytes) -> dict[str, Any] | None:
        """Decode PlayReady objects for ``drmkit inspect`` (never raises)."""
        if bytes(system_id) != PLAYREADY_SYSTEM_ID:
            return None
        description: dict[str, Any] = {
            "system": "PlayReady",
            "key_systems": [PLAYREADY, NETFLIX],
            "data_size": len(data),
        }
        try:
            description.update(describe_playready_data(bytes(data)))
        except Exception as exc:  # a description must not fail on any input
            description["error"] = str(exc)
        return description

    @hookimpl
    def drm_license_helper(self, key_system: str) -> PlayReadyLicenseHelper:
        """Return the test-license builder for the reference CDM's PlayReady simulations."""
        return PlayReadyLicenseHelper(key_system)


def _check_key_id(key_id: bytes) -> None:
    if len(key_id) != 16:
        raise InvalidKeyIdError(f"PlayReady key ids are 16 bytes, not {len(key_id)}")


def _state(session: SessionContext) -> PlayReadySessionState:
    state = session.state
    if not isinstance(state, PlayReadySessionState):  # a session created before the plugin's hook
        state = session.state = PlayReadySessionState()
    return state


def header_of(session: SessionContext) -> PlayReadyInitData | None:
    """Return the header a session was built with or last given (``None`` before either)."""
    return _state(session).init_data


plugin = PlayReadyNetflixPlugin()
"""The plugin object the entry point names."""
