"""The PlayReady and Netflix PlayReady key-system plugins on the generic OCDM mapping.

Two plugin classes, one per key system, each published as its own entry point in group
``drmkit.keysystems``::

    playready = "drmkit_playready_netflix.plugin:playready"   # com.microsoft.playready
    netflix = "drmkit_playready_netflix.plugin:netflix"       # com.netflix.playready

Both use the OCDM extension interface (DRM header, key selection, stores, LDL limit, DRM time);
they only ever serve these key systems, so the extension calls never reach a ClearKey or Widevine
CDM session (where the real OCDM crashes). The framework routes each key system to its plugin:
neither compares key-system strings.

:class:`PlayReadyPlugin` (``com.microsoft.playready``; the reference CDM's alias
``com.youtube.playready`` in test licenses) follows the generic flow: the CDM sends its challenge
during construct, with the header's ``LA_URL`` as url; ``update`` and ``close`` are the generic
ones. On top of :class:`drmkit.sdk.OcdmKeySystemPlugin`:

- init data and DRM headers are parsed before the CDM; the header a session was built with (or
  last given) is kept, and a test license's keys must match the CHECKSUMs it gives;
- the CDM's ``"properties"`` message (play levels) is kept in the session state, never delivered
  as a renewal (:class:`~drmkit_playready_netflix.session_state.PlayReadyCallbacks`);
- ``select_key_id`` reaches the CDM only when the binding changes;
- an LDL request is ``NotSupportedError`` (LDL belongs to the Netflix flow).

:class:`NetflixPlugin` (``com.netflix.playready``) is a :class:`PlayReadyPlugin` with the Netflix
flow (Rialto's extended branch, as in the original MKS design):

- every ``generate_request`` pulls the challenge with ``get_challenge_data`` (size pass, then data
  pass; ``is_ldl`` from the limited-duration-license state) and emits it as the license request
  with an empty url; a zero size is a ``FailError``;
- ``update`` is ``store_license_data`` (its 16-byte secure-stop id is not exposed);
- ``close`` is ``cancel_challenge_data`` then ``clean_decrypt_context``; both are attempted and a
  failure of either fails the close (Rialto only logs it: hazard "hidden failure on extended
  close");
- a sample naming a key binds it first (Rialto's decryptor); a sample without a key id uses the
  application's selected key.
"""

from __future__ import annotations

from typing import Any, ClassVar

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
    SessionCallbacks,
    SessionContext,
    TestLicenseEndpoint,
    hookimpl,
    parse_xml_test_challenge,
)
from drmkit_hal import OcdmCallError

from drmkit_playready_netflix.header import HeaderError
from drmkit_playready_netflix.initdata import (
    INIT_DATA_TYPES,
    describe_playready_data,
    parse_init_data,
    parse_pro_or_header,
)
from drmkit_playready_netflix.keysystems import NETFLIX, PLAYREADY, YOUTUBE_PLAYREADY
from drmkit_playready_netflix.license_helper import NetflixLicenseHelper, PlayReadyLicenseHelper
from drmkit_playready_netflix.licenses import check_test_license
from drmkit_playready_netflix.session_state import PlayReadyCallbacks, PlayReadySessionState

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

PLAYREADY_ENDPOINT = TestLicenseEndpoint(
    path="/refcdm/playready/license",
    key_system=PLAYREADY,
    key_systems=frozenset({PLAYREADY, YOUTUBE_PLAYREADY}),
    parse_challenge=parse_xml_test_challenge,
)
"""The license server's route for the reference CDM's PlayReady test challenges."""

NETFLIX_ENDPOINT = TestLicenseEndpoint(
    path="/refcdm/netflix/license",
    key_system=NETFLIX,
    key_systems=frozenset({NETFLIX}),
    parse_challenge=parse_xml_test_challenge,
)
"""The license server's route for the Netflix simulation's (pulled) test challenges."""


class PlayReadyPlugin(OcdmKeySystemPlugin):
    """``com.microsoft.playready`` on the generic OCDM mapping."""

    key_systems = (PLAYREADY_INFO,)
    extended_interface = True
    session_state_type = PlayReadySessionState
    test_license_endpoints = (PLAYREADY_ENDPOINT,)
    license_key_systems: ClassVar[frozenset[str]] = PLAYREADY_ENDPOINT.key_systems
    """Key systems a test license given to a session may name."""
    license_helper_type: ClassVar[type[PlayReadyLicenseHelper]] = PlayReadyLicenseHelper
    """The conformance kit's and the demo's license helper (``drm_license_helper``)."""

    def wrap_callbacks(
        self, session: SessionContext, callbacks: SessionCallbacks
    ) -> PlayReadyCallbacks:
        """Keep the CDM's ``"properties"`` message (play levels) out of the license messages."""
        return PlayReadyCallbacks(callbacks, PlayReadySessionState.of(session))

    def prepare_license(self, session: SessionContext, response: bytes) -> bytes:
        """Check ``response`` and return what to give the CDM.

        A test license must be for one of :attr:`license_key_systems` and for this session (one
        naming no session gets this session's id), and each key must match the CHECKSUM the
        session's header gives for its KID. Anything else goes to the CDM untouched (a real
        PlayReady license).
        """
        parsed = check_test_license(response, self.license_key_systems)
        if parsed is None:
            return response
        init_data = PlayReadySessionState.of(session).init_data
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

    # -- session hooks that differ -----------------------------------------------------------

    @hookimpl
    def drm_generate_request(
        self,
        session: SessionContext,
        init_data_type: str,
        init_data: bytes,
        ldl_state: LimitedDurationLicense,
    ) -> None:
        """Check the init data, refuse LDL, keep the header, construct (the CDM sends a request)."""
        parsed = parse_init_data(init_data_type, init_data)
        if ldl_state is LimitedDurationLicense.ENABLED:  # DISABLED asks for nothing special
            raise NotSupportedError(
                f"limited-duration licenses are requested through {NETFLIX} sessions"
            )
        if session.cdm is None:
            PlayReadySessionState.of(session).init_data = parsed
            self.construct_session(session, init_data_type, init_data)

    @hookimpl
    def drm_set_drm_header(self, session: SessionContext, header: bytes) -> None:
        """Check the header (PRO or WRMHEADER); queue it before construct, else set it."""
        parsed = parse_pro_or_header(header)
        super().drm_set_drm_header(session, parsed.pro)
        PlayReadySessionState.of(session).init_data = parsed

    @hookimpl
    def drm_select_key_id(self, session: SessionContext, key_id: bytes) -> None:
        """Select the key samples without a key id use; the CDM is called only on a change."""
        _check_key_id(key_id)
        self._bind(session, key_id)
        PlayReadySessionState.of(session).selected_key_id = bytes(key_id)

    def _bind(self, session: SessionContext, key_id: bytes) -> None:
        """Bind the CDM's decrypt context to ``key_id`` unless it is bound to it already."""
        state = PlayReadySessionState.of(session)
        if state.bound_key_id == key_id:
            return
        self._cdm(session).select_key_id(key_id)
        state.bound_key_id = bytes(key_id)
        state.cleaned = False

    # -- discovery ---------------------------------------------------------------------------

    @hookimpl
    def drm_describe_init_data(self, system_id: bytes, data: bytes) -> dict[str, Any] | None:
        """Decode PlayReady objects for ``drmkit inspect`` (never raises)."""
        if bytes(system_id) != PLAYREADY_SYSTEM_ID:
            return None
        description: dict[str, Any] = {
            "system": "PlayReady",
            "key_systems": [PLAYREADY, NETFLIX],  # the key systems whose init data this is
            "data_size": len(data),
        }
        try:
            description.update(describe_playready_data(bytes(data)))
        except Exception as exc:  # a description must not fail on any input
            description["error"] = str(exc)
        return description

    @hookimpl
    def drm_license_helper(self, key_system: str) -> PlayReadyLicenseHelper:
        """Return the test-license builder for the reference CDM's simulation."""
        return self.license_helper_type()


class NetflixPlugin(PlayReadyPlugin):
    """``com.netflix.playready``: PlayReady with the Netflix flow."""

    key_systems = (NETFLIX_INFO,)
    test_license_endpoints = (NETFLIX_ENDPOINT,)
    license_key_systems = NETFLIX_ENDPOINT.key_systems
    license_helper_type = NetflixLicenseHelper

    def prepare_license(self, session: SessionContext, response: bytes) -> bytes:
        """Refuse a license before the session has a DRM header, then check it as PlayReady."""
        self._cdm(session)
        if PlayReadySessionState.of(session).init_data is None:
            raise InvalidStateError("store_license_data on a session without a DRM header")
        return super().prepare_license(session, response)

    def apply_license(self, session: SessionContext, response: bytes) -> None:
        """``store_license_data`` (the secure-stop id it returns stays inside, as in Rialto)."""
        self._cdm(session).store_license_data(response)

    @hookimpl
    def drm_generate_request(
        self,
        session: SessionContext,
        init_data_type: str,
        init_data: bytes,
        ldl_state: LimitedDurationLicense,
    ) -> None:
        """Check the init data; construct on the first request; then pull the challenge."""
        parsed = parse_init_data(init_data_type, init_data)
        state = PlayReadySessionState.of(session)
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

    @hookimpl
    def drm_close_session(self, session: SessionContext) -> None:
        """``cancel_challenge_data`` then ``clean_decrypt_context``; failures are reported."""
        cdm = self._cdm(session)
        state = PlayReadySessionState.of(session)
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
    def drm_decrypt(
        self, session: SessionContext, buffer: memoryview, params: DecryptParams
    ) -> None:
        """Bind a sample's key id first; bind the selected key for a sample without one.

        The application's selection (``select_key_id``) and the CDM's binding are kept apart, so
        a sample naming another key never changes which key later samples without a key id use.
        """
        if params.key_id:
            _check_key_id(params.key_id)
            self._bind(session, params.key_id)
        else:
            selected = PlayReadySessionState.of(session).selected_key_id
            if selected is None:
                raise FailError("the sample names no key and no key is selected")
            self._bind(session, selected)
        super().drm_decrypt(session, buffer, params)


def _check_key_id(key_id: bytes) -> None:
    if len(key_id) != 16:
        raise InvalidKeyIdError(f"PlayReady key ids are 16 bytes, not {len(key_id)}")


playready = PlayReadyPlugin()
"""The object entry point ``playready`` names."""

netflix = NetflixPlugin()
"""The object entry point ``netflix`` names."""
