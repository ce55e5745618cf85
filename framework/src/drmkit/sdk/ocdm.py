"""The generic OCDM mapping: every drmkit hook implemented once with the OpenCDM call sequence.

A key-system plugin subclasses :class:`OcdmKeySystemPlugin`, declares its key systems, and overrides
only what differs. The override points are plain methods and class attributes:

- :meth:`~OcdmKeySystemPlugin.validate_init_data`: init-data syntax, checked before the CDM;
- :meth:`~OcdmKeySystemPlugin.cdm_init_data` / :meth:`~OcdmKeySystemPlugin.cdm_init_data_types`:
  init data in a form the loaded CDM parses (its profile lists what it parses right);
- :meth:`~OcdmKeySystemPlugin.wrap_callbacks`: a filter of the plugin's own between the CDM's
  callbacks and the core's (Widevine strips its message prefix and passes the message type on);
- :attr:`~OcdmKeySystemPlugin.session_state_type`: what the plugin keeps per session
  (``session.state``), a subclass of :class:`OcdmSessionState`;
- :meth:`~OcdmKeySystemPlugin.prepare_license` (by default :meth:`validate_license`) and
  :meth:`~OcdmKeySystemPlugin.apply_license`: what an update gives the CDM, and how (Clear Key
  splits multi-key licenses for CDMs that take one key per license; Netflix stores licenses with
  ``store_license_data``);
- :attr:`~OcdmKeySystemPlugin.extended_interface`: ``True`` enables the OCDM extension calls
  (DRM header, key selection, stores, LDL), which crash on CDMs without them (``ocdm-abi`` §5.6);
  the HAL also refuses them where the CDM profile says the CDM has no extension interface;
- :attr:`~OcdmKeySystemPlugin.test_license_endpoints`: the license-server routes for the plugin's
  test challenges (hook ``drm_test_license_endpoints``).

A hook whose flow differs is overridden as a whole (the Netflix flow pulls its challenge in
``drm_generate_request`` and closes with ``cancel_challenge_data`` + ``clean_decrypt_context``);
it keeps using :meth:`~OcdmKeySystemPlugin.construct_session`, never a copy of it.

Flow (Rialto ``MediaKeySession``): the CDM session is constructed on the first generate request
(``opencdm_construct_session``), a DRM header set before that is queued and applied right after
construct, ``update``/``close``/``remove``/``load`` map one to one, release destructs the session.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar, Self

from drmkit.errors import (
    FailError,
    InterfaceNotImplementedError,
    InvalidStateError,
    NotSupportedError,
    OutputRestrictedError,
)
from drmkit.events import KeyStatus, MessageType
from drmkit.sdk.markers import PROJECT_NAME, hookimpl
from drmkit.sdk.model import (
    KeySystemCapabilities,
    KeySystemInfo,
    SessionCallbacks,
    SessionContext,
    SystemContext,
    adapt_capabilities,
)
from drmkit.sdk.ocdm_status import (
    HDCP_FAILURE_DRM_ERROR,
    OCDM_OUTPUT_RESTRICTED,
    encryption_scheme_for,
    key_status_for,
    license_type_for,
)
from drmkit.sdk.test_license import TestLicenseEndpoint
from drmkit.types import DecryptParams, LimitedDurationLicense
from drmkit_hal import (
    CdmProfile,
    CdmSession,
    CdmSystem,
    DecryptNotSupportedError,
    EncryptionScheme,
    InvalidArgumentError,
    LicenseType,
    OcdmCallError,
    Pattern,
    Subsample,
)
from drmkit_hal import SessionCallbacks as CdmCallbacks

# MediaKeys using each shared HAL CdmSystem (keyed by id(); entries live while the system does).
_system_users: dict[int, int] = {}
_system_users_lock = threading.Lock()


class OcdmSessionState:
    """What the generic mapping keeps per session besides the CDM session (``session.state``).

    A plugin that keeps more subclasses it and names the subclass in
    :attr:`OcdmKeySystemPlugin.session_state_type`.
    """

    __slots__ = ("callbacks", "queued_drm_header")

    def __init__(self) -> None:
        self.queued_drm_header: bytes | None = None
        self.callbacks: KeyBatchGate | None = None

    @classmethod
    def of(cls, session: SessionContext) -> Self:
        """Return ``session.state``, first made an instance of this class if it is none yet.

        Sessions get their state in ``drm_create_session``; this also covers a session whose
        state was never made (a context built by hand, e.g. in a test).
        """
        state = session.state
        if not isinstance(state, cls):
            state = session.state = cls()
        return state


class KeyBatchGate:
    """The CDM's callbacks for one session, with the end of a key-status batch held on request.

    A license applied in several CDM updates (one key per update) makes the CDM end a batch
    (``keys_updated``) after each; while :meth:`hold` is in effect those are kept back and one is
    delivered by :meth:`release`, so the application sees one key-status change per license.
    """

    __slots__ = ("_held", "_pending", "_target")

    def __init__(self, target: SessionCallbacks) -> None:
        self._target = target
        self._held = False
        self._pending = False

    def on_challenge(
        self, url: str, challenge: bytes, message_type: MessageType | None = None
    ) -> None:
        """Forward a challenge (with its message type, when a plugin's filter knows it)."""
        self._target.on_challenge(url, challenge, message_type)

    def on_key_update(self, key_id: bytes) -> None:
        """Forward a key update."""
        self._target.on_key_update(key_id)

    def on_error(self, message: str) -> None:
        """Forward an error."""
        self._target.on_error(message)

    def on_keys_updated(self) -> None:
        """Forward the end of a batch, or keep it while held."""
        if self._held:
            self._pending = True
            return
        self._target.on_keys_updated()

    def hold(self) -> None:
        """Keep ``keys_updated`` back until :meth:`release`."""
        self._held, self._pending = True, False

    def release(self) -> None:
        """Deliver one ``keys_updated`` if any was kept back."""
        pending, self._held, self._pending = self._pending, False, False
        if pending:
            self._target.on_keys_updated()


class OcdmKeySystemPlugin:
    """Implements every routed hook with the generic OCDM call sequence.

    Subclasses set :attr:`key_systems` and override what differs for their key system.
    """

    key_systems: ClassVar[tuple[KeySystemInfo, ...]] = ()
    """The key systems this plugin serves (returned by ``drm_key_systems``)."""

    extended_interface: ClassVar[bool] = False
    """Whether the CDM implements the OCDM extension calls (PlayReady); gates them."""

    session_state_type: ClassVar[type[OcdmSessionState]] = OcdmSessionState
    """The class of ``session.state`` (a subclass of :class:`OcdmSessionState` keeps more)."""

    test_license_endpoints: ClassVar[tuple[TestLicenseEndpoint, ...]] = ()
    """License-server routes for this plugin's test challenges (``drm_test_license_endpoints``)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Keep overridden hooks registered: an override needs no ``@hookimpl`` of its own."""
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if not name.startswith("drm_") or not callable(value):
                continue
            if hasattr(value, f"{PROJECT_NAME}_impl"):
                continue
            inherited = (getattr(base, name, None) for base in cls.__mro__[1:])
            if any(hasattr(f, f"{PROJECT_NAME}_impl") for f in inherited):
                setattr(cls, name, hookimpl(value))

    # -- declaration -------------------------------------------------------------------------

    @hookimpl
    def drm_key_systems(self) -> list[KeySystemInfo]:
        """Declare :attr:`key_systems`."""
        return list(self.key_systems)

    @hookimpl
    def drm_test_license_endpoints(self) -> list[TestLicenseEndpoint]:
        """Declare :attr:`test_license_endpoints`."""
        return list(self.test_license_endpoints)

    # -- syntax checks and licenses (override points) ----------------------------------------

    def validate_init_data(self, init_data_type: str, init_data: bytes) -> None:
        """Raise ``InvalidInitDataError`` if ``init_data`` is malformed for its type."""

    def validate_license(self, session: SessionContext, response: bytes) -> None:
        """Raise ``InvalidLicenseError`` if ``response`` is malformed."""

    def prepare_license(self, session: SessionContext, response: bytes) -> bytes:
        """Check a license and return what to give the CDM (default: :meth:`validate_license`).

        Override to check the license against the session or to rewrite it (e.g. fill in the
        session a test license is addressed to).
        """
        self.validate_license(session, response)
        return response

    def apply_license(self, session: SessionContext, response: bytes) -> None:
        """Give a prepared license to the CDM (default: one ``opencdm_session_update``)."""
        self._cdm(session).update(response)

    # -- per-session state and callbacks (override points) -----------------------------------

    def session_state(self, session: SessionContext) -> OcdmSessionState:
        """Return the session's state, an instance of :attr:`session_state_type`."""
        return self.session_state_type.of(session)

    def wrap_callbacks(self, session: SessionContext, callbacks: SessionCallbacks) -> CdmCallbacks:
        """Return the object the CDM calls back: ``callbacks`` (default) or a filter around it.

        ``callbacks`` carries the CDM's events to the core (``session.callbacks`` behind the
        :meth:`key_batch` gate); a filter may reinterpret the CDM's messages and pass a
        ``MessageType`` to ``callbacks.on_challenge``. Called before each construct; the filter
        runs on the CDM's thread and must never call the CDM.
        """
        return callbacks

    # -- the loaded CDM (override points) ----------------------------------------------------

    def cdm_init_data_types(self, declared: frozenset[str], profile: CdmProfile) -> frozenset[str]:
        """Return the declared init-data types this plugin can give the CDM of ``profile``.

        The default keeps those the CDM parses right; override when the plugin can translate
        (see :meth:`cdm_init_data`).
        """
        return frozenset(t for t in declared if profile.parses_init_data_type(t))

    def cdm_init_data(
        self, profile: CdmProfile, init_data_type: str, init_data: bytes
    ) -> tuple[str, bytes]:
        """Return the init data to construct the CDM session with (default: unchanged)."""
        return init_data_type, init_data

    @hookimpl
    def drm_cdm_capabilities(
        self, key_system: str, capabilities: KeySystemCapabilities, profile: CdmProfile
    ) -> KeySystemCapabilities:
        """Narrow the declared capabilities to what the CDM of ``profile`` handles right."""
        return adapt_capabilities(
            capabilities,
            profile,
            init_data_types=self.cdm_init_data_types(capabilities.init_data_types, profile),
        )

    @hookimpl
    def drm_is_supported(self, key_system: str, hal: Any) -> bool:
        """``opencdm_is_type_supported(key_system, "")``."""
        return bool(hal.is_type_supported(key_system))

    @hookimpl
    def drm_create_system(self, system: SystemContext) -> None:
        """``opencdm_create_system``; ``NotSupportedError`` when the CDM has no such system.

        The HAL keeps one CDM system per key system, shared by every MediaKeys of it: count the
        users so that destroying one MediaKeys never destructs another one's sessions.
        """
        try:
            cdm = system.hal.create_system(system.key_system)
        except OcdmCallError as exc:
            raise NotSupportedError(f"the CDM does not support {system.key_system}: {exc}") from exc
        with _system_users_lock:
            _system_users[id(cdm)] = _system_users.get(id(cdm), 0) + 1
        system.cdm = cdm

    @hookimpl
    def drm_destroy_system(self, system: SystemContext) -> None:
        """``opencdm_destruct_system`` once its last MediaKeys is gone (idempotent)."""
        cdm, system.cdm = system.cdm, None
        if cdm is None:
            return
        with _system_users_lock:
            users = _system_users.get(id(cdm), 1) - 1
            if users > 0:
                _system_users[id(cdm)] = users
            else:
                _system_users.pop(id(cdm), None)
        if users <= 0:
            cdm.destruct()

    @hookimpl
    def drm_get_version(self, system: SystemContext) -> str:
        """``opencdm_system_get_version``."""
        return str(self._system(system).version())

    @hookimpl
    def drm_supports_server_certificate(self, system: SystemContext) -> bool:
        """``opencdm_system_supports_server_certificate``."""
        return bool(self._system(system).supports_server_certificate())

    @hookimpl
    def drm_set_server_certificate(self, system: SystemContext, certificate: bytes) -> None:
        """``opencdm_system_set_server_certificate`` if the key system declared support."""
        if not system.info.capabilities.server_certificate:
            raise NotSupportedError(f"{system.key_system} takes no server certificate")
        self._system(system).set_server_certificate(certificate)

    @hookimpl
    def drm_get_drm_time(self, system: SystemContext) -> int:
        """``opencdm_system_get_drm_time``."""
        return int(self._system(system).drm_time())

    @hookimpl
    def drm_get_metric_system_data(self, system: SystemContext) -> bytes:
        """``opencdm_get_metric_system_data`` (the HAL grows its buffer up to its limit)."""
        return bytes(self._system(system).metric_data())

    @hookimpl
    def drm_delete_drm_store(self, system: SystemContext) -> None:
        """``opencdm_delete_secure_store`` (extension)."""
        self._extended_system(system, "delete_drm_store").delete_secure_store()

    @hookimpl
    def drm_delete_key_store(self, system: SystemContext) -> None:
        """``opencdm_delete_key_store`` (extension)."""
        self._extended_system(system, "delete_key_store").delete_key_store()

    @hookimpl
    def drm_get_drm_store_hash(self, system: SystemContext) -> bytes:
        """``opencdm_get_secure_store_hash_ext`` (extension)."""
        return bytes(self._extended_system(system, "get_drm_store_hash").secure_store_hash())

    @hookimpl
    def drm_get_key_store_hash(self, system: SystemContext) -> bytes:
        """``opencdm_get_key_store_hash_ext`` (extension)."""
        return bytes(self._extended_system(system, "get_key_store_hash").key_store_hash())

    @hookimpl
    def drm_get_ldl_session_limit(self, system: SystemContext) -> int:
        """``opencdm_system_ext_get_ldl_session_limit`` (extension)."""
        return int(self._extended_system(system, "get_ldl_session_limit").ldl_session_limit())

    # -- session level -----------------------------------------------------------------------

    @hookimpl
    def drm_create_session(self, session: SessionContext) -> None:
        """Give the session its state; the CDM session is constructed on the first request."""
        session.state = self.session_state_type()

    @hookimpl
    def drm_generate_request(
        self,
        session: SessionContext,
        init_data_type: str,
        init_data: bytes,
        ldl_state: LimitedDurationLicense,
    ) -> None:
        """Validate the init data, then construct the CDM session (which fires the challenge)."""
        self.validate_init_data(init_data_type, init_data)
        if session.cdm is None:
            self.construct_session(session, init_data_type, init_data)

    def construct_session(
        self,
        session: SessionContext,
        init_data_type: str,
        init_data: bytes,
        cdm_data: bytes = b"",
    ) -> CdmSession:
        """``opencdm_construct_session``, then apply a queued DRM header.

        The init data goes through :meth:`cdm_init_data` first (a form the loaded CDM parses); the
        CDM calls back through :meth:`wrap_callbacks`, then the :meth:`key_batch` gate, to
        ``session.callbacks``.
        """
        system = self._system(session.system)
        init_data_type, init_data = self.cdm_init_data(
            session.system.profile, init_data_type, init_data
        )
        state = self.session_state(session)
        state.callbacks = KeyBatchGate(session.callbacks)
        cdm = system.construct_session(
            LicenseType(license_type_for(session.session_type)),
            init_data_type,
            init_data,
            cdm_data,
            self.wrap_callbacks(session, state.callbacks),
        )
        session.cdm = cdm
        if state.queued_drm_header is not None:
            header, state.queued_drm_header = state.queued_drm_header, None
            cdm.set_drm_header(header)
        return cdm

    @staticmethod
    def key_batch(session: SessionContext) -> KeyBatchGate:
        """Return the session's callback gate (for licenses applied in several CDM updates)."""
        state = session.state
        if not isinstance(state, OcdmSessionState) or state.callbacks is None:
            raise InvalidStateError(f"key session {session.session_id} has no CDM session yet")
        return state.callbacks

    load_init_data_type: ClassVar[str] = "persistent-session-id"
    """Init data type that constructs a session to load (the init data is the CDM session id)."""

    @hookimpl
    def drm_load_session(self, session: SessionContext, cdm_session_id: str) -> None:
        """``opencdm_session_load``; first constructs a session naming ``cdm_session_id``."""
        if session.cdm is None:
            if not cdm_session_id:
                raise InvalidStateError("load needs a CDM session id on an unconstructed session")
            self.construct_session(session, self.load_init_data_type, cdm_session_id.encode())
        self._cdm(session).load()

    @hookimpl
    def drm_update_session(self, session: SessionContext, response: bytes) -> None:
        """:meth:`prepare_license`, then give the result to the CDM (:meth:`apply_license`)."""
        self.apply_license(session, self.prepare_license(session, response))

    @hookimpl
    def drm_close_session(self, session: SessionContext) -> None:
        """``opencdm_session_close``."""
        self._cdm(session).close()

    @hookimpl
    def drm_remove_session(self, session: SessionContext) -> None:
        """``opencdm_session_remove``; not supported where the CDM's profile says so."""
        profile = session.system.profile
        if not profile.supports_operation("remove"):
            raise NotSupportedError(f"the {profile.name} CDM does not implement remove")
        self._cdm(session).remove()

    @hookimpl
    def drm_release_session(self, session: SessionContext) -> None:
        """``opencdm_destruct_session`` (no callbacks after it; nothing for an unbuilt session)."""
        cdm, session.cdm = session.cdm, None
        if cdm is not None:
            cdm.destruct()

    @hookimpl
    def drm_contains_key(self, session: SessionContext, key_id: bytes) -> bool:
        """``opencdm_session_has_key_id`` (a key id the HAL cannot pass is not held)."""
        cdm = self._cdm(session)
        try:
            return bool(cdm.has_key_id(key_id))
        except InvalidArgumentError:  # e.g. not 16 bytes: the OCDM ABI cannot even name such a key
            return False

    @hookimpl
    def drm_get_key_status(self, session: SessionContext, key_id: bytes) -> KeyStatus:
        """``opencdm_session_status`` mapped with Rialto's table."""
        return key_status_for(int(self._cdm(session).status(key_id)))

    @hookimpl
    def drm_select_key_id(self, session: SessionContext, key_id: bytes) -> None:
        """``opencdm_session_select_key_id`` (extension)."""
        self._require_extended(session.system, "select_key_id")
        self._cdm(session).select_key_id(key_id)

    @hookimpl
    def drm_set_drm_header(self, session: SessionContext, header: bytes) -> None:
        """``opencdm_session_set_drm_header`` (extension); queued until construct."""
        self._require_extended(session.system, "set_drm_header")
        if session.cdm is None:
            self.session_state(session).queued_drm_header = header
            return
        session.cdm.set_drm_header(header)

    @hookimpl
    def drm_get_last_drm_error(self, session: SessionContext) -> int:
        """``opencdm_session_system_error``."""
        return int(self._cdm(session).system_error())

    @hookimpl
    def drm_get_cdm_key_session_id(self, session: SessionContext) -> str:
        """``opencdm_session_id``."""
        return str(self._cdm(session).session_id)

    @hookimpl
    def drm_decrypt(
        self, session: SessionContext, buffer: memoryview, params: DecryptParams
    ) -> None:
        """Decrypt in place; an HDCP restriction becomes ``OutputRestrictedError``."""
        cdm = self._cdm(session)
        try:
            cdm.decrypt(
                buffer,
                scheme=EncryptionScheme(encryption_scheme_for(params.cipher_mode)),
                iv=params.iv,
                key_id=params.key_id,
                subsamples=[Subsample(int(c), int(e)) for c, e in params.subsamples],
                pattern=Pattern(int(params.pattern[0]), int(params.pattern[1])),
                init_with_last15=params.init_with_last_15,
            )
        except DecryptNotSupportedError as exc:
            raise NotSupportedError(str(exc)) from exc
        except OcdmCallError as exc:
            if self._output_restricted(cdm, params.key_id):
                raise OutputRestrictedError(f"decrypt refused by output protection: {exc}") from exc
            raise FailError(f"decrypt failed: {exc}") from exc

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def _output_restricted(cdm: CdmSession, key_id: bytes) -> bool:
        try:
            if key_id and int(cdm.status(key_id)) in OCDM_OUTPUT_RESTRICTED:
                return True
            return int(cdm.system_error()) == HDCP_FAILURE_DRM_ERROR
        except Exception:  # a failing status query must not hide the decrypt error
            return False

    @staticmethod
    def _system(system: SystemContext) -> CdmSystem:
        cdm = system.cdm
        if cdm is None:
            raise InvalidStateError(f"the {system.key_system} CDM system is not created")
        return cdm  # type: ignore[no-any-return]

    @staticmethod
    def _cdm(session: SessionContext) -> CdmSession:
        cdm = session.cdm
        if cdm is None:
            raise InvalidStateError(f"key session {session.session_id} has no CDM session yet")
        return cdm  # type: ignore[no-any-return]

    def _require_extended(self, system: SystemContext, what: str) -> None:
        if not self.extended_interface:
            raise InterfaceNotImplementedError(f"{system.key_system} does not implement {what}")

    def _extended_system(self, system: SystemContext, what: str) -> CdmSystem:
        self._require_extended(system, what)
        return self._system(system)
