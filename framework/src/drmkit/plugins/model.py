"""The objects the framework hands to key-system plugins and the declarations plugins return.

A plugin never sees another key system's objects: the framework routes every call with a hook
caller scoped to the plugin that declared the key system (see ``drmkit.plugins.routing``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from drmkit.core.types import CipherMode, KeySessionType

if TYPE_CHECKING:
    from drmkit_hal import Hal, SessionCallbacks


@dataclass(frozen=True, slots=True)
class KeySystemCapabilities:
    """What a key system supports; the core rejects anything else with ``NOT_SUPPORTED``.

    ``init_data_types`` are OCDM init-data-type strings (``"cenc"``, ``"keyids"``, ``"webm"``,
    ``"drmheader"``). ``repeatable_generate_request`` allows more than one generate request per
    session (PlayReady/Netflix pulls a new challenge on each).
    """

    init_data_types: frozenset[str]
    session_types: frozenset[KeySessionType] = frozenset({KeySessionType.TEMPORARY})
    encryption_schemes: frozenset[CipherMode] = frozenset({CipherMode.CENC})
    robustness_levels: tuple[str, ...] = ("",)
    server_certificate: bool = False
    repeatable_generate_request: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict (used by ``drmkit plugins --json``)."""
        return {
            "init_data_types": sorted(self.init_data_types),
            "session_types": sorted(t.name.lower() for t in self.session_types),
            "encryption_schemes": sorted(str(s) for s in self.encryption_schemes),
            "robustness_levels": list(self.robustness_levels),
            "server_certificate": self.server_certificate,
            "repeatable_generate_request": self.repeatable_generate_request,
        }


@dataclass(frozen=True, slots=True)
class KeySystemInfo:
    """A key system a plugin serves, as returned by ``drm_key_systems``.

    ``system_ids`` are the 16-byte PSSH system ids the key system's init data uses (for
    ``drmkit inspect`` and init-data routing); ``description`` is shown by ``drmkit plugins``.
    """

    key_system: str
    capabilities: KeySystemCapabilities
    system_ids: tuple[bytes, ...] = ()
    description: str = ""


class SystemContext:
    """One MediaKeys' view of its key system, passed to the system-level hooks.

    ``cdm`` belongs to the plugin: the generic OCDM mapping stores the HAL ``CdmSystem`` there.
    """

    __slots__ = ("cdm", "hal", "info", "key_system")

    def __init__(self, info: KeySystemInfo, hal: Hal) -> None:
        self.info = info
        self.key_system = info.key_system
        self.hal = hal
        self.cdm: Any = None


class SessionContext:
    """One key session's view for the session hooks.

    The framework owns ``session_id``, ``session_type``, ``system`` and ``callbacks`` (an object
    with the HAL ``SessionCallbacks`` methods that carries CDM callbacks to the core's event loop;
    pass it to the CDM as is). The plugin owns ``cdm`` (the CDM session handle, ``None`` until the
    plugin constructs it) and ``state`` (anything else the plugin keeps per session).
    """

    __slots__ = ("callbacks", "cdm", "session_id", "session_type", "state", "system")

    def __init__(
        self,
        session_id: int,
        session_type: KeySessionType,
        system: SystemContext,
        callbacks: SessionCallbacks,
    ) -> None:
        self.session_id = session_id
        self.session_type = session_type
        self.system = system
        self.callbacks = callbacks
        self.cdm: Any = None
        self.state: Any = None

    @property
    def key_system(self) -> str:
        """The key system this session belongs to."""
        return self.system.key_system


class LicenseHelper(Protocol):
    """Builds test init data and valid licenses for one key system (conformance kit, demos).

    Returned by the ``drm_license_helper`` hook. For ClearKey the license is a JWK set.
    """

    def init_data(self, key_ids: Sequence[bytes]) -> list[tuple[str, bytes]]:
        """Return ``(init_data_type, init_data)`` pairs naming ``key_ids``, one per type."""
        ...

    def build_license(
        self,
        request: bytes,
        keys: Mapping[bytes, bytes],
        session_type: KeySessionType = KeySessionType.TEMPORARY,
    ) -> bytes:
        """Return a license answering ``request`` that carries ``keys`` (key id → 16-byte key)."""
        ...

    def key_ids_of_request(self, request: bytes) -> list[bytes]:
        """Return the key ids a license request asks for."""
        ...


@dataclass(slots=True)
class InstalledPlugin:
    """One installed entry point of group ``drmkit.keysystems`` (for ``drmkit plugins``)."""

    name: str
    distribution: str
    version: str
    value: str
    enabled: bool = False
    blocked: bool = False
    key_systems: list[KeySystemInfo] = field(default_factory=list)
    error: str | None = None
