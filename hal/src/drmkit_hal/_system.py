"""``CdmSystem``: one OCDM key system (``struct OpenCDMSystem*``) and its sessions."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from ._callbacks import SessionCallbacks
from ._cdata import c_text
from ._lifetime import LifetimeGuard, State
from ._ocdm import ffi, lib
from ._session import CdmSession, _read_blob, _read_string, check_size, raise_for
from ._types import DecryptVariant, LicenseType, OcdmStatus
from .errors import ExtensionNotSupportedError, HalError, InvalidArgumentError, OcdmCallError

if TYPE_CHECKING:
    from ._hal import Hal
    from ._library import Library
    from ._profile import CdmProfile

log = logging.getLogger("drmkit_hal")

_U16 = 0xFFFF
_U32 = 0xFFFFFFFF
_VERSION_CAPACITY = 64  # opencdm_system_get_version writes at most 63 chars + NUL
_HASH_CAPACITY = 64  # the store-hash calls need a buffer of at least 64 bytes
_SECURE_STOP_ID_SIZE = 16
_MAX_SECURE_STOPS = 8


class CdmSystem:
    """One key system opened on a ``Hal``; ``destruct`` releases it and its live sessions."""

    def __init__(
        self,
        hal: Hal,
        library: Library,
        key_system: str,
        pointer: Any,
        variant: DecryptVariant,
        quirks: frozenset[str],
        profile: CdmProfile,
    ) -> None:
        self.key_system = key_system
        self.profile = profile
        """The profile of the CDM behind this system."""
        self.decrypt_variant = variant
        """The decrypt entry point this system's sessions use."""
        self._hal = hal
        self._library = library
        self._lib = library.handle
        self._ptr = pointer
        self._variant = variant
        self._quirks = quirks
        self._guard = LifetimeGuard(f"CDM system {key_system}")
        self._sessions: dict[int, CdmSession] = {}
        self._sessions_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<CdmSystem {self.key_system!r} {self._guard.state.value}>"

    # ---- sessions -----------------------------------------------------------------------------

    def construct_session(
        self,
        license_type: LicenseType,
        init_data_type: str,
        init_data: bytes,
        cdm_data: bytes,
        callbacks: SessionCallbacks,
    ) -> CdmSession:
        """Construct a session; challenges fired during construct reach ``callbacks`` first."""
        check_size(init_data, _U16, "init data")
        check_size(cdm_data, _U16, "CDM data")
        try:
            license_type = LicenseType(license_type)
        except ValueError as exc:
            raise InvalidArgumentError(str(exc)) from None
        session = CdmSession(
            self, self._library, callbacks, self._variant, self._quirks, self.profile
        )
        self._guard.enter()
        try:
            with self._sessions_lock:
                self._sessions[id(session)] = session
            try:
                session._construct(self._ptr, license_type, init_data_type, init_data, cdm_data)
            except BaseException:
                self._forget(session)
                raise
        finally:
            self._guard.leave()
        return session

    def sessions(self) -> list[CdmSession]:
        """Return the live sessions of this system."""
        with self._sessions_lock:
            return list(self._sessions.values())

    def find_session(self, key_id: bytes, wait_ms: int = 0) -> CdmSession | None:
        """Return this system's session holding a usable ``key_id`` (``get_system_session``)."""
        if len(key_id) != 16:
            raise InvalidArgumentError(f"key id must be 16 bytes long, not {len(key_id)}")
        self._guard.enter()
        try:
            found = lib.hal_get_system_session(self._lib, self._ptr, key_id, 16, wait_ms)
        finally:
            self._guard.leave()
        adopted: CdmSession | None = self._hal._adopt_found_session(found)
        return adopted

    def _forget(self, session: CdmSession) -> None:
        with self._sessions_lock:
            self._sessions.pop(id(session), None)

    def _session_for_pointer(self, pointer: Any) -> CdmSession | None:
        with self._sessions_lock:
            for session in self._sessions.values():
                if session._ptr == pointer:
                    return session
        return None

    def destruct(self) -> None:
        """Destruct the live sessions, then the system (idempotent)."""
        for session in self.sessions():
            session.destruct()
        if not self._guard.begin_destruct():
            return
        try:
            for session in self.sessions():  # constructed while calls in flight drained
                session.destruct()
            status = lib.hal_destruct_system(self._lib, self._ptr)
            if status:
                log.warning("opencdm_destruct_system(%s) returned %#x", self.key_system, status)
        finally:
            self._ptr = ffi.NULL
            self._guard.end_destruct()
            self._hal._forget(self)

    @property
    def destructed(self) -> bool:
        """Whether ``destruct`` has run."""
        return self._guard.state is State.DESTRUCTED

    # ---- system calls -------------------------------------------------------------------------

    def _call(self, forwarder: Any, *args: Any) -> int:
        self._guard.enter()
        try:
            status: int = forwarder(self._lib, self._ptr, *args)
        finally:
            self._guard.leave()
        return status

    def require_extension(self, function: str) -> None:
        """Raise ``ExtensionNotSupportedError`` unless the CDM may have the extension interface."""
        if self.profile.extension_interface is False:
            raise ExtensionNotSupportedError(function, self.key_system, self.profile.name)

    def _ext_call(self, function: str, forwarder: Any, *args: Any) -> int:
        self.require_extension(function)
        return self._call(forwarder, *args)

    def version(self) -> str:
        """Return the DRM version string."""
        buffer = ffi.new("char[]", _VERSION_CAPACITY)
        raise_for("opencdm_system_get_version", self._call(lib.hal_system_get_version, buffer))
        return c_text(buffer, _VERSION_CAPACITY)

    def metadata(self) -> str:
        """Return the system metadata string (two-pass read)."""
        self._guard.enter()
        try:
            return _read_string(
                "opencdm_system_get_metadata",
                lambda buf, size: lib.hal_system_get_metadata(self._lib, self._ptr, buf, size),
            )
        finally:
            self._guard.leave()

    def drm_time(self) -> int:
        """Return the DRM clock (seconds for PlayReady)."""
        value = ffi.new("uint64_t *")
        raise_for("opencdm_system_get_drm_time", self._call(lib.hal_system_get_drm_time, value))
        return int(value[0])

    def supports_server_certificate(self) -> bool:
        """Tell whether the CDM accepts a server certificate."""
        return self._call(lib.hal_system_supports_server_certificate) != 0

    def set_server_certificate(self, cert: bytes) -> None:
        """Install a server certificate."""
        check_size(cert, _U16, "server certificate")
        raise_for(
            "opencdm_system_set_server_certificate",
            self._call(lib.hal_system_set_server_certificate, cert, len(cert)),
        )

    def metric_data(self) -> bytes:
        """Return the system's metric blob."""
        self._guard.enter()
        try:
            return _read_blob(
                "opencdm_get_metric_system_data",
                lambda buf, size: lib.hal_get_metric_system_data(self._lib, self._ptr, size, buf),
            )
        finally:
            self._guard.leave()

    # ---- Netflix / PlayReady extension --------------------------------------------------------

    def ldl_session_limit(self) -> int:
        """Return the limit of license-deferred (LDL) sessions."""
        value = ffi.new("uint32_t *")
        raise_for(
            "opencdm_system_ext_get_ldl_session_limit",
            self._ext_call(
                "opencdm_system_ext_get_ldl_session_limit",
                lib.hal_system_ext_get_ldl_session_limit,
                value,
            ),
        )
        return int(value[0])

    def _hash(self, function: str, forwarder: Any) -> bytes:
        buffer = ffi.new("uint8_t[]", _HASH_CAPACITY)
        raise_for(function, self._ext_call(function, forwarder, buffer, _HASH_CAPACITY))
        return bytes(ffi.buffer(buffer))

    def key_store_hash(self) -> bytes:
        """Return the 64-byte key-store hash buffer (the hash, zero-padded)."""
        return self._hash("opencdm_get_key_store_hash_ext", lib.hal_get_key_store_hash_ext)

    def secure_store_hash(self) -> bytes:
        """Return the 64-byte secure-store hash buffer (the hash, zero-padded)."""
        return self._hash("opencdm_get_secure_store_hash_ext", lib.hal_get_secure_store_hash_ext)

    def delete_key_store(self) -> None:
        """Delete the key store."""
        raise_for(
            "opencdm_delete_key_store",
            self._ext_call("opencdm_delete_key_store", lib.hal_delete_key_store),
        )

    def delete_secure_store(self) -> None:
        """Delete the secure store."""
        raise_for(
            "opencdm_delete_secure_store",
            self._ext_call("opencdm_delete_secure_store", lib.hal_delete_secure_store),
        )

    def is_secure_stop_enabled(self) -> bool:
        """Tell whether secure stops are enabled (``False`` without the extension interface)."""
        if self.profile.extension_interface is False:
            return False
        return bool(self._call(lib.hal_system_ext_is_secure_stop_enabled))

    def enable_secure_stop(self, use: bool) -> None:
        """Enable or disable secure stops."""
        raise_for(
            "opencdm_system_ext_enable_secure_stop",
            self._ext_call(
                "opencdm_system_ext_enable_secure_stop",
                lib.hal_system_ext_enable_secure_stop,
                int(use),
            ),
        )

    def reset_secure_stops(self) -> int:
        """Reset secure stops; return how many were reset."""
        return self._ext_call(
            "opencdm_system_ext_reset_secure_stop", lib.hal_system_ext_reset_secure_stop
        )

    def secure_stop_ids(self) -> list[bytes]:
        """Return the 16-byte ids of the pending secure stops."""
        function = "opencdm_system_ext_get_secure_stop_ids"
        capacity = _MAX_SECURE_STOPS
        for _ in range(3):
            buffer = ffi.new("uint8_t[]", capacity * _SECURE_STOP_ID_SIZE)
            count = ffi.new("uint32_t *")
            size = min(capacity * _SECURE_STOP_ID_SIZE, _U16)
            status = self._ext_call(
                "opencdm_system_ext_get_secure_stop_ids",
                lib.hal_system_ext_get_secure_stop_ids,
                buffer,
                size,
                count,
            )
            if status == OcdmStatus.BUFFER_TOO_SMALL and count[0] > capacity:
                capacity = count[0]
                continue
            raise_for(function, status)
            raw = bytes(ffi.buffer(buffer, min(count[0], capacity) * _SECURE_STOP_ID_SIZE))
            return [raw[i : i + _SECURE_STOP_ID_SIZE] for i in range(0, len(raw), 16)]
        raise HalError(f"{function} kept asking for a larger buffer")

    def secure_stop(self, session_id: bytes) -> bytes:
        """Return the secure-stop blob of ``session_id`` (two-pass)."""
        function = "opencdm_system_ext_get_secure_stop"
        check_size(session_id, _U32, "secure-stop id")
        size = ffi.new("uint16_t *", 0)
        status = self._ext_call(
            function,
            lib.hal_system_ext_get_secure_stop,
            session_id,
            len(session_id),
            ffi.NULL,
            size,
        )
        if status and status not in (OcdmStatus.MORE_DATA_AVAILABLE, OcdmStatus.BUFFER_TOO_SMALL):
            raise_for(function, status)
        if size[0] == 0:
            raise OcdmCallError(function, status or OcdmStatus.FAIL, "secure stop size is 0")
        buffer = ffi.new("uint8_t[]", size[0])
        raise_for(
            function,
            self._ext_call(
                function,
                lib.hal_system_ext_get_secure_stop,
                session_id,
                len(session_id),
                buffer,
                size,
            ),
        )
        return bytes(ffi.buffer(buffer, size[0]))

    def commit_secure_stop(self, session_id: bytes, response: bytes) -> None:
        """Commit a secure stop with the server's response."""
        check_size(session_id, _U32, "secure-stop id")
        check_size(response, _U32, "secure-stop response")
        raise_for(
            "opencdm_system_ext_commit_secure_stop",
            self._ext_call(
                "opencdm_system_ext_commit_secure_stop",
                lib.hal_system_ext_commit_secure_stop,
                session_id,
                len(session_id),
                response,
                len(response),
            ),
        )

    def teardown(self) -> None:
        """Call ``opencdm_system_teardown`` (absent from Thunder master: METHOD_NOT_IMPLEMENTED)."""
        raise_for("opencdm_system_teardown", self._call(lib.hal_system_teardown))
