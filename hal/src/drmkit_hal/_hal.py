"""``Hal``: one opened OCDM library, its configuration and its key systems."""

from __future__ import annotations

import atexit
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from ._callbacks import callback_state
from ._cdata import c_text
from ._library import Library, default_library_path, dispose_libraries, load_library
from ._ocdm import ffi, lib
from ._profile import KNOWN_QUIRKS, CdmProfile, LibraryProfile, resolve_profile
from ._system import CdmSystem
from ._types import DecryptVariant, OcdmStatus, PlayLevels
from .errors import HalError, InvalidArgumentError, OcdmCallError

log = logging.getLogger("drmkit_hal")

_REPLY_CAPACITY = 64 * 1024


@dataclass(frozen=True)
class HalConfig:
    """How to open the HAL.

    Attributes:
        library_path: the OCDM library; ``None`` means ``$DRMKIT_HAL_LIBRARY`` when set, else the
            bundled reference CDM.
        decrypt_variant: ``auto`` (what the CDM profile names for each key system; ``v2`` falls
            back to ``ten_arg`` when the library lacks ``opencdm_session_decrypt_v2``), ``v2``,
            ``ten_arg`` or ``legacy`` (the pre-2021 8-argument form) for every key system.
        store_dir: where the reference CDM persists ``persistent-license`` sessions.
        quirks: return-code quirks of the library (``inverted_load``, ``inverted_remove``), on
            top of those its profile names.
        profile: ``auto`` (the profile matching the library), a profile name, or a TOML file.
        profile_paths: extra profile files, tried before the built-in ones.
        library_search_path: directories holding the library's own dependencies (e.g. Thunder's
            ``lib/``): they are loaded from there, whatever ``LD_LIBRARY_PATH`` says.

    """

    library_path: Path | None = None
    decrypt_variant: DecryptVariant | str = DecryptVariant.AUTO
    store_dir: Path | None = None
    quirks: frozenset[str] = field(default_factory=frozenset)
    profile: str | Path = "auto"
    profile_paths: tuple[Path, ...] = ()
    library_search_path: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        try:
            variant = DecryptVariant(self.decrypt_variant)
        except ValueError:
            choices = ", ".join(v.value for v in DecryptVariant)
            raise InvalidArgumentError(
                f"unknown decrypt_variant {self.decrypt_variant!r} (one of {choices})"
            ) from None
        object.__setattr__(self, "decrypt_variant", variant)
        quirks = frozenset(self.quirks)
        unknown = quirks - KNOWN_QUIRKS
        if unknown:
            raise InvalidArgumentError(
                f"unknown HAL quirks {sorted(unknown)} (known: {sorted(KNOWN_QUIRKS)})"
            )
        object.__setattr__(self, "quirks", quirks)
        if self.library_path is not None:
            object.__setattr__(self, "library_path", Path(self.library_path))
        if self.store_dir is not None:
            object.__setattr__(self, "store_dir", Path(self.store_dir))
        object.__setattr__(self, "profile_paths", tuple(Path(p) for p in self.profile_paths))
        object.__setattr__(
            self, "library_search_path", tuple(Path(p) for p in self.library_search_path)
        )


# Strong references: an open Hal must outlive every callback its CDM may still deliver (the
# callbacks' userData handles hang off its sessions), so an unclosed Hal lives until exit.
_open_hals: set[Hal] = set()
_open_hals_lock = threading.Lock()


@atexit.register
def _close_open_hals() -> None:
    # CDM threads calling back into a finalising interpreter crash it: shut CDMs down first,
    # then dispose every library once (opencdm_dispose is terminal in Thunder's client).
    with _open_hals_lock:
        hals = list(_open_hals)
    for hal in hals:
        try:
            hal.close()
        except Exception:  # pragma: no cover - best effort at exit
            log.exception("closing a HAL at exit failed")
    dispose_libraries()


def library_profile(config: HalConfig | None = None) -> LibraryProfile:
    """Return the profile of the library ``config`` names, without opening a ``Hal``.

    Loads the library (once per process, as ``Hal.open`` would) but makes no OCDM call: for
    listings such as ``drmkit plugins``.

    Raises:
        LibraryLoadError: the library cannot be loaded.
        ProfileError: the configured profile is unknown or malformed.

    """
    config = config or HalConfig()
    library = load_library(
        config.library_path or default_library_path(), config.library_search_path
    )
    return resolve_profile(
        library.path,
        library.is_reference,
        profile=config.profile,
        profile_paths=config.profile_paths,
    )


class Hal:
    """An opened OCDM library. Use ``Hal.open(config)``; close it (or use ``with``)."""

    def __init__(self, config: HalConfig, library: Library, profile: LibraryProfile) -> None:
        self.config = config
        self._library = library
        self._lib = library.handle
        self._systems: dict[str, CdmSystem] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.profile = profile
        """The profile of the loaded library (``docs/platforms.md``)."""
        self.decrypt_variant = self._variant_for(profile.default)
        """The decrypt variant of key systems the profile does not name."""
        self._check_variant()

    @classmethod
    def open(cls, config: HalConfig | None = None) -> Hal:
        """Load the configured library and return an open ``Hal``.

        Raises:
            LibraryLoadError: the library cannot be loaded or lacks required symbols.

        """
        config = config or HalConfig()
        path = config.library_path or default_library_path()
        library = load_library(path, config.library_search_path)
        profile = resolve_profile(
            library.path,
            library.is_reference,
            profile=config.profile,
            profile_paths=config.profile_paths,
        )
        hal = cls(config, library, profile)
        with library.lock:
            library.users += 1
        with _open_hals_lock:
            _open_hals.add(hal)
        try:
            if config.store_dir is not None:
                if library.is_reference:
                    hal.configure({"store_dir": str(config.store_dir.absolute())})
                else:
                    log.info("store_dir is ignored: %s is not the reference CDM", library.path)
        except BaseException:
            hal.close()
            raise
        return hal

    def cdm_profile(self, key_system: str) -> CdmProfile:
        """Return the profile of the CDM serving ``key_system`` on this library."""
        return self.profile.cdm(key_system)

    def _variant_for(self, cdm: CdmProfile) -> DecryptVariant:
        variant = DecryptVariant(self.config.decrypt_variant)
        if variant is not DecryptVariant.AUTO:
            return variant
        variant = cdm.decrypt_variant
        if variant is DecryptVariant.V2 and not self._library.exports("opencdm_session_decrypt_v2"):
            variant = DecryptVariant.TEN_ARG
        return variant

    def _check_variant(self) -> None:
        variant = self.decrypt_variant
        if variant is DecryptVariant.V2 and not self._library.exports("opencdm_session_decrypt_v2"):
            raise HalError(
                f"decrypt_variant v2: {self._library.path} does not export "
                "opencdm_session_decrypt_v2"
            )
        if (
            variant is DecryptVariant.LEGACY
            and not self._library.exports("drmkit_refcdm_session_decrypt_legacy")
            and self._library.exports("opencdm_session_decrypt_v2")
        ):
            raise HalError(
                f"decrypt_variant legacy: {self._library.path} exports opencdm_session_decrypt_v2, "
                "so its opencdm_session_decrypt takes 10 arguments, not the legacy 8"
            )

    # ---- lifetime -----------------------------------------------------------------------------

    def __enter__(self) -> Hal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Hal {self._library.path} profile={self.profile.name} {state}>"

    @property
    def closed(self) -> bool:
        """Whether ``close`` has run."""
        return self._closed

    def close(self) -> None:
        """Destruct every live session and system; later calls raise ``HalError``. Idempotent.

        The library stays loaded and is not disposed: ``opencdm_dispose`` is terminal in Thunder's
        client (the next ``opencdm_create_system`` crashes), so it runs once, at process exit.
        """
        if callback_state.active:
            raise HalError("Hal.close from inside a CDM callback is not allowed")
        with self._lock:
            if self._closed:
                return
            self._closed = True
            systems = list(self._systems.values())
        for system in systems:
            system.destruct()
        with _open_hals_lock:
            _open_hals.discard(self)
        with self._library.lock:
            self._library.users -= 1

    def _check_open(self) -> None:
        if self._closed:
            raise HalError("the HAL is closed")
        if callback_state.active:
            raise HalError("OCDM call from inside a CDM callback is not allowed")

    def _forget(self, system: CdmSystem) -> None:
        with self._lock:
            if self._systems.get(system.key_system) is system:
                del self._systems[system.key_system]

    # ---- library facts ------------------------------------------------------------------------

    @property
    def library_path(self) -> str:
        """The path the library was loaded from."""
        return self._library.path

    @property
    def is_reference(self) -> bool:
        """Whether the loaded library is drmkit's reference CDM (it has the control entries)."""
        return self._library.is_reference

    def exports(self, symbol: str) -> bool:
        """Tell whether the library exports ``symbol`` (optional OCDM and control functions)."""
        return self._library.exports(symbol)

    # ---- OCDM calls ---------------------------------------------------------------------------

    def is_type_supported(self, key_system: str, mime_type: str = "") -> bool:
        """Tell whether the library serves ``key_system`` (and ``mime_type``)."""
        self._check_open()
        status = lib.hal_is_type_supported(self._lib, key_system.encode(), mime_type.encode())
        return int(status) == 0

    def create_system(self, key_system: str) -> CdmSystem:
        """Return this HAL's ``CdmSystem`` for ``key_system``, creating it on first use.

        Raises:
            OcdmCallError: ``KEYSYSTEM_NOT_SUPPORTED`` (or the library's code) when the library
                returns no system; the pointer is checked, not the return code.

        """
        self._check_open()
        with self._lock:
            if self._closed:
                raise HalError("the HAL is closed")
            existing = self._systems.get(key_system)
            if existing is not None:
                return existing
            encoded = key_system.encode()
            if self._library.exports("opencdm_create_system_extended"):
                function = "opencdm_create_system_extended"
                out = ffi.new("struct OpenCDMSystem **")
                status = lib.hal_create_system_extended(self._lib, encoded, out)
                pointer = out[0]
            else:
                function = "opencdm_create_system"
                status = 0
                pointer = lib.hal_create_system(self._lib, encoded)
            if pointer == ffi.NULL:
                raise OcdmCallError(
                    function,
                    OcdmStatus.KEYSYSTEM_NOT_SUPPORTED,
                    f"no system for {key_system!r} (library returned {status:#x})",
                )
            profile = self.cdm_profile(key_system)
            system = CdmSystem(
                self,
                self._library,
                key_system,
                pointer,
                self._variant_for(profile),
                frozenset(self.config.quirks) | profile.quirks,
                profile,
            )
            self._systems[key_system] = system
            return system

    def systems(self) -> list[CdmSystem]:
        """Return the live systems of this HAL."""
        with self._lock:
            return list(self._systems.values())

    def find_session(self, key_id: bytes, wait_ms: int = 0) -> Any:
        """Return the live ``CdmSession`` holding a usable ``key_id`` (``opencdm_get_session``)."""
        self._check_open()
        if len(key_id) != 16:
            raise InvalidArgumentError(f"key id must be 16 bytes long, not {len(key_id)}")
        return self._adopt_found_session(lib.hal_get_session(self._lib, key_id, 16, wait_ms))

    def _adopt_found_session(self, pointer: Any) -> Any:
        # opencdm_get_(system_)session returns an AddRef'ed pointer: map it to our wrapper and
        # give the extra reference back.
        if pointer == ffi.NULL:
            return None
        found = None
        for system in self.systems():
            found = system._session_for_pointer(pointer)
            if found is not None:
                break
        lib.hal_destruct_session(self._lib, pointer)
        return found

    def play_levels(self, properties_json: str) -> PlayLevels:
        """Parse a PlayReady "properties" message with ``opencdm_system_ext_get_properties``."""
        self._check_open()
        levels = ffi.new("struct PlayLevels *")
        status = lib.hal_system_ext_get_properties(self._lib, levels, properties_json.encode())
        if status:
            raise OcdmCallError("opencdm_system_ext_get_properties", status)
        return PlayLevels(
            levels._compressedDigitalVideoLevel,
            levels._uncompressedDigitalVideoLevel,
            levels._analogVideoLevel,
            levels._compressedDigitalAudioLevel,
            levels._uncompressedDigitalAudioLevel,
            levels._maxResDecodeWidth,
            levels._maxResDecodeHeight,
        )

    # ---- reference CDM control ----------------------------------------------------------------

    def test_control(self, command: Mapping[str, object]) -> dict[str, object]:
        """Send a test-control command to the reference CDM (see docs/reference-cdm.md)."""
        return self._control("drmkit_refcdm_test_control", lib.hal_refcdm_test_control, command)

    def configure(self, command: Mapping[str, object]) -> dict[str, object]:
        """Send a production configuration command to the reference CDM."""
        return self._control("drmkit_refcdm_configure", lib.hal_refcdm_configure, command)

    def _control(
        self, function: str, forwarder: Any, command: Mapping[str, object]
    ) -> dict[str, object]:
        self._check_open()
        if not self._library.exports(function):
            raise HalError(f"{function}: {self._library.path} is not the reference CDM")
        request = json.dumps(dict(command)).encode()
        reply = ffi.new("char[]", _REPLY_CAPACITY)
        size = ffi.new("uint32_t *", _REPLY_CAPACITY)
        status = forwarder(self._lib, request, reply, size)
        if size[0] > _REPLY_CAPACITY:
            raise HalError(f"{function} reply of {size[0]} bytes exceeds {_REPLY_CAPACITY}")
        text = c_text(reply, _REPLY_CAPACITY)
        try:
            decoded = json.loads(text) if text else {}
        except json.JSONDecodeError as exc:
            raise HalError(f"{function} replied with invalid JSON: {text[:200]!r}") from exc
        if not isinstance(decoded, dict):
            raise HalError(f"{function} replied with a non-object: {text[:200]!r}")
        if status:
            raise OcdmCallError(function, status, str(decoded.get("error", "")))
        return decoded
