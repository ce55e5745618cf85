"""``CdmSession``: one OCDM session (``struct OpenCDMSession*``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import _decrypt
from ._callbacks import SessionCallbacks, callback_state, register_sink, unregister_sink
from ._cdata import c_text
from ._lifetime import LifetimeGuard, State
from ._ocdm import ffi, lib
from ._types import (
    DecryptVariant,
    EncryptionScheme,
    MediaProperties,
    OcdmKeyStatus,
    OcdmStatus,
    Pattern,
    Subsample,
)
from .errors import (
    DecryptNotSupportedError,
    HalError,
    InvalidArgumentError,
    InvalidBufferError,
    OcdmCallError,
)

if TYPE_CHECKING:
    from ._library import Library
    from ._profile import CdmProfile
    from ._system import CdmSystem

log = logging.getLogger("drmkit_hal")

_NO_PATTERN = Pattern(0, 0)
_NO_MEDIA = MediaProperties()
_U16 = 0xFFFF
_U32 = 0xFFFFFFFF
_SECURE_STOP_ID_SIZE = 16
_STRING_CAPACITY = 256
_METRIC_CAPACITY = 4096
#: How long ``destruct`` waits for a callback still running on the CDM's thread.
CALLBACK_DRAIN_TIMEOUT_S = 10.0
_MORE_DATA = (OcdmStatus.MORE_DATA_AVAILABLE, OcdmStatus.BUFFER_TOO_SMALL)


def check_size(data: bytes, limit: int, what: str) -> None:
    """Refuse ``data`` longer than the ABI's length type instead of letting C truncate it."""
    if len(data) > limit:
        raise InvalidArgumentError(
            f"{what} is {len(data)} bytes; the OCDM ABI carries at most {limit}"
        )


def raise_for(function: str, status: int, message: str = "") -> None:
    """Raise ``OcdmCallError`` for a non-zero ``status``."""
    if status:
        if status == lib.HAL_MISSING_SYMBOL and not message:
            message = "not implemented by this library (or symbol not exported)"
        raise OcdmCallError(function, status, message)


class CdmSession:
    """One OCDM session; created by ``CdmSystem.construct_session``.

    Thread-safe: calls may come from several threads; ``destruct`` waits for calls in flight. CDM
    callbacks go to ``callbacks`` on the CDM's thread until ``destruct`` starts; none arrives
    after ``destruct`` returns.
    """

    def __init__(
        self,
        system: CdmSystem,
        library: Library,
        callbacks: SessionCallbacks,
        variant: DecryptVariant,
        quirks: frozenset[str],
        profile: CdmProfile,
    ) -> None:
        self._system = system
        self._library = library
        self._lib = library.handle
        self._callbacks = callbacks
        self._variant = variant
        self._quirks = quirks
        self._profile = profile
        self._schemes = profile.encryption_schemes
        self._ptr: Any = ffi.NULL
        self._guard = LifetimeGuard("CDM session", State.CONSTRUCTING)
        # The CDM holds this token as userData; it names this wrapper until destruct.
        self._handle: Any = register_sink(self)
        # Callbacks running on the CDM's thread (destruct waits for them to return).
        self._callbacks_running = 0
        self._callbacks_idle = threading.Condition(threading.Lock())
        self.session_id = ""

    def __repr__(self) -> str:
        return f"<CdmSession {self.session_id!r} {self._guard.state.value}>"

    # ---- callbacks ----------------------------------------------------------------------------

    def _deliver(self, event: str, *args: object) -> None:
        with self._callbacks_idle:
            if self._guard.state not in (State.CONSTRUCTING, State.LIVE):
                log.debug("dropping %s for %r", event, self)
                return
            self._callbacks_running += 1
        callback_state.active = True
        try:
            getattr(self._callbacks, event)(*args)
        except Exception:
            log.exception("SessionCallbacks.%s raised (swallowed)", event)
        finally:
            callback_state.active = False
            with self._callbacks_idle:
                self._callbacks_running -= 1
                if not self._callbacks_running:
                    self._callbacks_idle.notify_all()

    def _drain_callbacks(self) -> None:
        """Wait until no callback of this session runs (the library may not wait for it)."""
        with self._callbacks_idle:
            if not self._callbacks_idle.wait_for(
                lambda: not self._callbacks_running, CALLBACK_DRAIN_TIMEOUT_S
            ):
                log.warning("a callback of %r still runs after destruct", self)

    # ---- construction / destruction -----------------------------------------------------------

    def _construct(
        self,
        system_ptr: Any,
        license_type: int,
        init_data_type: str,
        init_data: bytes,
        cdm_data: bytes,
    ) -> None:
        out = ffi.new("struct OpenCDMSession **")
        status = lib.hal_construct_session(
            self._lib,
            system_ptr,
            int(license_type),
            init_data_type.encode(),
            init_data,
            len(init_data),
            cdm_data,
            len(cdm_data),
            lib.hal_session_callbacks(),
            self._handle,
            out,
        )
        ptr = out[0]
        session_id = ""
        if ptr != ffi.NULL:
            raw = lib.hal_session_id(self._lib, ptr)
            session_id = c_text(raw)
        if status or ptr == ffi.NULL or not session_id:
            # A construct that returned a session object without an id still owns a reference.
            self._guard.begin_failed_construct()
            if ptr != ffi.NULL:
                lib.hal_destruct_session(self._lib, ptr)
            self._drain_callbacks()
            unregister_sink(self._handle)
            self._guard.end_failed_construct()
            if status:
                raise OcdmCallError("opencdm_construct_session", status)
            raise OcdmCallError(
                "opencdm_construct_session",
                OcdmStatus.INVALID_SESSION,
                "returned ERROR_NONE without a session id (construct failed)",
            )
        self._ptr = ptr
        self.session_id = session_id
        self._guard.constructed()

    @property
    def destructed(self) -> bool:
        """Whether ``destruct`` has run (or construct failed)."""
        return self._guard.state is State.DESTRUCTED

    def destruct(self) -> None:
        """Release the session (idempotent). No callback reaches Python after this returns.

        Callbacks that arrive once destruct has begun are dropped; one already running on the
        CDM's thread is waited for (Thunder's client does not wait for it), so nothing of the
        session runs after this returns, not even at interpreter exit.
        """
        if not self._guard.begin_destruct():
            return
        try:
            status = lib.hal_destruct_session(self._lib, self._ptr)
            if status:
                log.warning("opencdm_destruct_session(%s) returned %#x", self.session_id, status)
        finally:
            self._ptr = ffi.NULL
            self._drain_callbacks()
            unregister_sink(self._handle)
            self._guard.end_destruct()
            self._system._forget(self)

    # ---- core calls ---------------------------------------------------------------------------

    def _call(self, forwarder: Any, *args: Any) -> int:
        self._guard.enter()
        try:
            status: int = forwarder(self._lib, self._ptr, *args)
        finally:
            self._guard.leave()
        return status

    def _ext_call(self, function: str, forwarder: Any, *args: Any) -> int:
        self._system.require_extension(function)
        return self._call(forwarder, *args)

    def load(self) -> None:
        """Load a persisted session (``opencdm_session_load``)."""
        status = self._call(lib.hal_session_load)
        if "inverted_load" in self._quirks:
            # Thunder returns `DRM load == 0`: 1 on success, 0 on failure.
            if status == 1:
                return
            raise OcdmCallError(
                "opencdm_session_load",
                OcdmStatus.UNKNOWN if status == 0 else status,
                "load failed (inverted return code)",
            )
        raise_for("opencdm_session_load", status)

    def update(self, response: bytes) -> None:
        """Pass a license (or other server response); key callbacks have run when this returns."""
        check_size(response, _U16, "license response")
        raise_for(
            "opencdm_session_update",
            self._call(lib.hal_session_update, response, len(response)),
        )

    def remove(self) -> None:
        """Remove the session's persisted license (``opencdm_session_remove``)."""
        status = self._call(lib.hal_session_remove)
        if "inverted_remove" in self._quirks:
            if status == 1:
                return
            raise OcdmCallError(
                "opencdm_session_remove",
                OcdmStatus.UNKNOWN if status == 0 else status,
                "remove failed (inverted return code)",
            )
        raise_for("opencdm_session_remove", status)

    def close(self) -> None:
        """Ask the CDM to close the session (frees nothing: ``destruct`` does)."""
        raise_for("opencdm_session_close", self._call(lib.hal_session_close))

    def has_key_id(self, key_id: bytes) -> bool:
        """Tell whether the session knows ``key_id`` (any status)."""
        _decrypt.check_key_id(key_id, allow_empty=False)
        self._guard.enter()
        try:
            found = lib.hal_session_has_key_id(self._lib, self._ptr, len(key_id), key_id)
        finally:
            self._guard.leave()
        return bool(found)

    def status(self, key_id: bytes) -> OcdmKeyStatus:
        """Return the status of ``key_id``."""
        _decrypt.check_key_id(key_id, allow_empty=False)
        value = self._call(lib.hal_session_status, key_id, len(key_id))
        try:
            return OcdmKeyStatus(value)
        except ValueError:
            log.warning("opencdm_session_status returned unknown KeyStatus %d", value)
            return OcdmKeyStatus.INTERNAL_ERROR

    def error(self, key_id: bytes = b"") -> int:
        """Return ``opencdm_session_error`` (a raw code; see docs/hal.md on swapped getters)."""
        _decrypt.check_key_id(key_id, allow_empty=True)
        return self._call(lib.hal_session_error, key_id, len(key_id))

    def system_error(self) -> int:
        """Return ``opencdm_session_system_error`` as a raw code (0 before any error).

        A library whose profile names an ``unset_system_error`` (Thunder: 0xFFFFFFFF until the
        first error) has that value read as 0.
        """
        status = self._call(lib.hal_session_system_error)
        if status == self._profile.unset_system_error:
            return 0
        return status

    def metadata(self) -> str:
        """Return the session metadata string (two-pass read)."""
        self._guard.enter()
        try:
            return _read_string(
                "opencdm_session_metadata",
                lambda buf, size: lib.hal_session_metadata(self._lib, self._ptr, buf, size),
            )
        finally:
            self._guard.leave()

    def buffer_id(self) -> str:
        """Return the decrypt buffer id (``""`` until the first decrypt on most libraries)."""
        self._guard.enter()
        try:
            raw = lib.hal_session_buffer_id(self._lib, self._ptr)
            return c_text(raw)
        finally:
            self._guard.leave()

    def metric_data(self) -> bytes:
        """Return the session's metric blob."""
        self._guard.enter()
        try:
            return _read_blob(
                "opencdm_get_metric_session_data",
                lambda buf, size: lib.hal_get_metric_session_data(self._lib, self._ptr, size, buf),
            )
        finally:
            self._guard.leave()

    def reset_output_protection(self) -> None:
        """Call ``opencdm_session_resetoutputprotection``."""
        raise_for(
            "opencdm_session_resetoutputprotection",
            self._call(lib.hal_session_resetoutputprotection),
        )

    # ---- decrypt ------------------------------------------------------------------------------

    def decrypt(
        self,
        buffer: Any,
        *,
        scheme: EncryptionScheme,
        iv: bytes = b"",
        key_id: bytes = b"",
        subsamples: Sequence[Subsample] = (),
        pattern: Pattern = _NO_PATTERN,
        init_with_last15: bool = False,
        media: MediaProperties | None = None,
    ) -> None:
        """Decrypt ``buffer`` in place, zero-copy, with the GIL released during the C call."""
        if not 0 <= scheme <= EncryptionScheme.CBCS:
            raise InvalidArgumentError(f"unknown encryption scheme {scheme!r}")
        if self._schemes is not None and scheme not in self._schemes:
            raise DecryptNotSupportedError(
                f"the {self._profile.name} CDM does not decrypt "
                f"{EncryptionScheme(scheme).name.lower()} correctly (its profile lists "
                f"{', '.join(sorted(s.name.lower() for s in self._schemes))})"
            )
        if type(iv) is not bytes:
            iv = bytes(iv)
        if type(key_id) is not bytes:
            key_id = bytes(key_id)
        n_iv = len(iv)
        if n_iv != 16 and n_iv != 8 and n_iv != 0:
            _decrypt.check_iv(iv, counter_context=init_with_last15)
        n_kid = len(key_id)
        if n_kid != 16 and n_kid != 0:
            _decrypt.check_key_id(key_id, allow_empty=True)
        if pattern is not _NO_PATTERN:
            _decrypt.check_pattern(pattern)
        try:
            data = ffi.from_buffer("uint8_t[]", buffer, require_writable=True)
        except (TypeError, BufferError) as exc:
            raise InvalidBufferError(f"decrypt needs a writable contiguous buffer: {exc}") from exc
        with data:
            length = len(data)
            if length > _U32:
                raise InvalidArgumentError(
                    f"sample of {length} bytes exceeds the ABI's uint32 length"
                )
            if subsamples:
                packed = _decrypt.pack_subsamples(subsamples, length)
            if not length or scheme == EncryptionScheme.CLEAR:
                return  # clear: nothing is encrypted; a CDM given the buffer could only damage it
            variant = self._variant
            if init_with_last15 and variant is DecryptVariant.V2:
                variant = DecryptVariant.TEN_ARG  # SampleInfo has no initWithLast15 field
            if variant is DecryptVariant.V2:
                if subsamples:
                    count = len(subsamples)
                    if count > _decrypt.MAX_V2_SUBSAMPLES:
                        raise InvalidArgumentError(
                            f"{count} subsamples: opencdm_session_decrypt_v2 carries at most 255"
                        )

                else:
                    packed, count = b"", 0
                if self._profile.decrypt_v2_sample_info is False and (
                    subsamples or pattern[0] or scheme == EncryptionScheme.CENS
                ):
                    raise DecryptNotSupportedError(
                        "opencdm_session_decrypt_v2 drops the subsample map and pattern on the "
                        f"{self._profile.name} CDM (it would decrypt clear bytes too): use "
                        "decrypt_variant ten_arg (what auto picks for it)"
                    )
                if media is None:
                    media = _NO_MEDIA
                self._guard.enter()
                try:
                    status = lib.hal_session_decrypt_v2(
                        self._lib, self._ptr, data, length, scheme, pattern[0], pattern[1],
                        iv, n_iv, key_id, n_kid, packed, count,
                        media[0], media[1], media[2],
                    )  # fmt: skip
                finally:
                    self._guard.leave()
                if status:
                    raise_for("opencdm_session_decrypt_v2", status)
                return
            self._decrypt_without_map(
                data, length, variant, EncryptionScheme(scheme), iv, key_id, subsamples,
                pattern, init_with_last15,
            )  # fmt: skip

    def _decrypt_without_map(
        self,
        data: Any,
        length: int,
        variant: DecryptVariant,
        scheme: EncryptionScheme,
        iv: bytes,
        key_id: bytes,
        subsamples: Sequence[Subsample],
        pattern: Pattern,
        last15: bool,
    ) -> None:
        legacy = variant is DecryptVariant.LEGACY
        if legacy and _decrypt.is_cbc(scheme):
            raise DecryptNotSupportedError(
                f"scheme {scheme.name} needs a scheme argument: the legacy 8-argument "
                "opencdm_session_decrypt is AES-CTR only (configure decrypt_variant ten_arg or v2)"
            )
        if not subsamples and scheme is not EncryptionScheme.CENS:
            self._decrypt_call(legacy, data, length, scheme, pattern, iv, key_id, last15)
            return
        ranges = _decrypt.encrypted_ranges(subsamples, length)
        if scheme is EncryptionScheme.CBCS:
            # The constant IV and the pattern restart at every subsample: one call per range.
            for offset, size in ranges:
                self._decrypt_call(legacy, data + offset, size, scheme, pattern, iv, key_id, last15)
            return
        call_scheme = scheme
        if scheme is EncryptionScheme.CENS:
            if pattern[0]:
                ranges = _decrypt.pattern_crypt_ranges(ranges, pattern)
            else:  # no pattern: whole blocks only, a partial tail stays clear
                ranges = _decrypt.full_block_ranges(ranges)
            call_scheme = EncryptionScheme.CENC  # CTR over the gathered crypt blocks
        elif scheme is EncryptionScheme.CBC1:
            ranges = _decrypt.full_block_ranges(ranges)
        self._gather_decrypt(legacy, data, ranges, call_scheme, iv, key_id, last15)

    def _gather_decrypt(
        self,
        legacy: bool,
        data: Any,
        ranges: list[tuple[int, int]],
        scheme: EncryptionScheme,
        iv: bytes,
        key_id: bytes,
        last15: bool,
    ) -> None:
        if not ranges:
            return
        if len(ranges) == 1:
            offset, size = ranges[0]
            self._decrypt_call(legacy, data + offset, size, scheme, _NO_PATTERN, iv, key_id, last15)
            return
        view = ffi.buffer(data)
        scratch = bytearray(sum(size for _, size in ranges))
        position = 0
        for offset, size in ranges:
            scratch[position : position + size] = view[offset : offset + size]
            position += size
        with ffi.from_buffer("uint8_t[]", scratch, require_writable=True) as gathered:
            self._decrypt_call(
                legacy, gathered, len(scratch), scheme, _NO_PATTERN, iv, key_id, last15
            )
        position = 0
        for offset, size in ranges:
            view[offset : offset + size] = scratch[position : position + size]
            position += size

    def _decrypt_call(
        self,
        legacy: bool,
        pointer: Any,
        size: int,
        scheme: EncryptionScheme,
        pattern: Pattern,
        iv: bytes,
        key_id: bytes,
        last15: bool,
    ) -> None:
        self._guard.enter()
        try:
            if legacy:
                status = lib.hal_session_decrypt_legacy(
                    self._lib, self._ptr, pointer, size, iv, len(iv), key_id, len(key_id),
                    int(last15),
                )  # fmt: skip
            else:
                status = lib.hal_session_decrypt(
                    self._lib, self._ptr, pointer, size, scheme, pattern[0], pattern[1],
                    iv, len(iv), key_id, len(key_id), int(last15),
                )  # fmt: skip
        finally:
            self._guard.leave()
        raise_for(
            "drmkit_refcdm_session_decrypt_legacy"
            if legacy and self._library.exports("drmkit_refcdm_session_decrypt_legacy")
            else "opencdm_session_decrypt",
            status,
        )

    # ---- Netflix / PlayReady extension --------------------------------------------------------

    def set_drm_header(self, header: bytes) -> None:
        """Replace the session's DRM header (``opencdm_session_set_drm_header``)."""
        check_size(header, _U32, "DRM header")
        raise_for(
            "opencdm_session_set_drm_header",
            self._ext_call(
                "opencdm_session_set_drm_header",
                lib.hal_session_set_drm_header,
                header,
                len(header),
            ),
        )

    def get_challenge_data(self, is_ldl: bool = False) -> bytes:
        """Pull a license challenge (two-pass ``opencdm_session_get_challenge_data``)."""
        function = "opencdm_session_get_challenge_data"
        self._system.require_extension(function)
        self._guard.enter()
        try:
            size = ffi.new("uint32_t *", 0)
            status = lib.hal_session_get_challenge_data(
                self._lib, self._ptr, ffi.NULL, size, int(is_ldl)
            )
            if status and status not in _MORE_DATA:
                raise_for(function, status)
            if size[0] == 0:
                raise OcdmCallError(function, status or OcdmStatus.FAIL, "challenge size is 0")
            buffer = ffi.new("uint8_t[]", size[0])
            status = lib.hal_session_get_challenge_data(
                self._lib, self._ptr, buffer, size, int(is_ldl)
            )
            raise_for(function, status)
            return bytes(ffi.buffer(buffer, size[0]))
        finally:
            self._guard.leave()

    def cancel_challenge_data(self) -> None:
        """Call ``opencdm_session_cancel_challenge_data``."""
        raise_for(
            "opencdm_session_cancel_challenge_data",
            self._ext_call(
                "opencdm_session_cancel_challenge_data", lib.hal_session_cancel_challenge_data
            ),
        )

    def store_license_data(self, license: bytes) -> bytes:
        """Process a pulled license; return the 16-byte secure-stop id."""
        check_size(license, _U16, "license")
        secure_stop_id = ffi.new("uint8_t[]", _SECURE_STOP_ID_SIZE)
        raise_for(
            "opencdm_session_store_license_data",
            self._ext_call(
                "opencdm_session_store_license_data",
                lib.hal_session_store_license_data,
                license,
                len(license),
                secure_stop_id,
            ),
        )
        return bytes(ffi.buffer(secure_stop_id))

    def select_key_id(self, key_id: bytes) -> None:
        """Bind the decrypt context to ``key_id`` (``opencdm_session_select_key_id``)."""
        _decrypt.check_key_id(key_id, allow_empty=False)
        raise_for(
            "opencdm_session_select_key_id",
            self._ext_call(
                "opencdm_session_select_key_id", lib.hal_session_select_key_id, len(key_id), key_id
            ),
        )

    def clean_decrypt_context(self) -> None:
        """Call ``opencdm_session_clean_decrypt_context``."""
        raise_for(
            "opencdm_session_clean_decrypt_context",
            self._ext_call(
                "opencdm_session_clean_decrypt_context", lib.hal_session_clean_decrypt_context
            ),
        )


def _read_string(function: str, call: Any) -> str:
    """Two-pass string read: MORE_DATA_AVAILABLE with the needed size, then the real read."""
    capacity = _STRING_CAPACITY
    for _ in range(3):
        buffer = ffi.new("char[]", capacity)
        size = ffi.new("uint16_t *", capacity)
        status = call(buffer, size)
        if status == OcdmStatus.MORE_DATA_AVAILABLE and size[0] > capacity:
            capacity = size[0]
            continue
        raise_for(function, status)
        return c_text(buffer, capacity)
    raise HalError(f"{function} kept asking for a larger buffer")


def _read_blob(function: str, call: Any) -> bytes:
    """Read a length-prefixed blob, growing the buffer when the library asks for more."""
    capacity = _METRIC_CAPACITY
    for _ in range(3):
        buffer = ffi.new("uint8_t[]", capacity)
        size = ffi.new("uint32_t *", capacity)
        status = call(buffer, size)
        if status in _MORE_DATA and size[0] > capacity:
            capacity = size[0]
            continue
        raise_for(function, status)
        return bytes(ffi.buffer(buffer, min(size[0], capacity)))
    raise HalError(f"{function} kept asking for a larger buffer")
