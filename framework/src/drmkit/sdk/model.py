"""The objects the framework hands to key-system plugins and the declarations plugins return.

A plugin never sees another key system's objects: the framework routes every call with a hook
caller scoped to the plugin that declared the key system (see ``drmkit.keysystems.routing``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from drmkit.events import MessageType
from drmkit.types import CipherMode, KeySessionType

if TYPE_CHECKING:
    from drmkit.sdk.helpers import DemoStep
    from drmkit_hal import CdmProfile, Hal


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


# OCDM EncryptionScheme and LicenseType values (hal/include/drmkit/open_cdm.h).
_OCDM_SCHEME = {CipherMode.CENC: 1, CipherMode.CBC1: 2, CipherMode.CENS: 3, CipherMode.CBCS: 4}
_OCDM_LICENSE_TYPE = {
    KeySessionType.TEMPORARY: 0,
    KeySessionType.PERSISTENT_RELEASE_MESSAGE: 1,
    KeySessionType.PERSISTENT_LICENCE: 2,
}


def adapt_capabilities(
    capabilities: KeySystemCapabilities,
    profile: CdmProfile,
    *,
    init_data_types: Iterable[str] | None = None,
) -> KeySystemCapabilities:
    """Return ``capabilities`` narrowed to what the CDM of ``profile`` handles right.

    Encryption schemes and session types the profile does not list are dropped. Init-data types
    are narrowed to ``init_data_types`` when given (what the plugin can hand the CDM, e.g. after
    translating them), else to those the profile lists. A profile without restrictions changes
    nothing.
    """
    if init_data_types is None:
        kept_init = frozenset(
            t for t in capabilities.init_data_types if profile.parses_init_data_type(t)
        )
    else:
        kept_init = capabilities.init_data_types & frozenset(init_data_types)
    return replace(
        capabilities,
        init_data_types=kept_init,
        encryption_schemes=frozenset(
            m for m in capabilities.encryption_schemes if profile.supports_scheme(_OCDM_SCHEME[m])
        ),
        session_types=frozenset(
            t
            for t in capabilities.session_types
            if profile.supports_license_type(_OCDM_LICENSE_TYPE.get(t, 0))
        ),
    )


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


class SessionCallbacks(Protocol):
    """Where a plugin sends a session's CDM events (``SessionContext.callbacks``).

    The HAL's ``drmkit_hal.SessionCallbacks`` plus an optional message type on challenges: a
    plugin whose CDM tells license requests, renewals and releases apart (Widevine's
    ``"<n>:Type:"`` prefix) passes it on; without it the core tells a request from a renewal by
    order. An object of this type satisfies the HAL's protocol, so it can be given to the CDM as
    is; ``OcdmKeySystemPlugin.construct_session`` does, unless the plugin's ``wrap_callbacks``
    puts a filter of its own in between. Called on the CDM's thread.
    """

    def on_challenge(
        self, url: str, challenge: bytes, message_type: MessageType | None = None
    ) -> None:
        """Deliver a challenge (``message_type`` when the CDM says which kind it is)."""
        ...

    def on_key_update(self, key_id: bytes) -> None:
        """Note that the status of ``key_id`` changed."""
        ...

    def on_error(self, message: str) -> None:
        """Deliver an asynchronous CDM error (it fails the operation that is running)."""
        ...

    def on_keys_updated(self) -> None:
        """End a batch of key updates."""
        ...


class SystemContext:
    """One MediaKeys' view of its key system, passed to the system-level hooks.

    ``profile`` is the :class:`drmkit_hal.CdmProfile` of the CDM serving the key system on the
    loaded library: what it supports and gets wrong (``docs/platforms.md``). ``capabilities`` are
    the declared capabilities adapted to that CDM (what the core enforces). ``cdm`` belongs to the
    plugin: the generic OCDM mapping stores the HAL ``CdmSystem`` there.
    """

    __slots__ = ("capabilities", "cdm", "hal", "info", "key_system", "profile")

    def __init__(
        self,
        info: KeySystemInfo,
        hal: Hal,
        capabilities: KeySystemCapabilities | None = None,
    ) -> None:
        self.info = info
        self.key_system = info.key_system
        self.hal = hal
        self.profile: CdmProfile = hal.cdm_profile(info.key_system)
        self.capabilities = capabilities or info.capabilities
        self.cdm: Any = None


class SessionContext:
    """One key session's view for the session hooks.

    The framework owns ``session_id``, ``session_type``, ``system`` and ``callbacks`` (a
    :class:`SessionCallbacks` that carries CDM callbacks to the core's event loop; its
    ``on_challenge`` takes an optional message type). The plugin owns ``cdm`` (the CDM session
    handle, ``None`` until the plugin constructs it) and ``state`` (anything else the plugin keeps
    per session).
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

    Returned by the ``drm_license_helper`` hook. For ClearKey the license is a JWK set. Inherit
    :class:`drmkit.sdk.BaseLicenseHelper` for the defaults of ``cdm_operation_aliases`` and
    ``demo_steps``.
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

    @property
    def cdm_operation_aliases(self) -> Mapping[str, str]:
        """Name the CDM calls that perform generic operations (``BaseLicenseHelper``: none)."""
        ...

    def demo_steps(self, steps: Sequence[DemoStep[Any]]) -> list[DemoStep[Any]]:
        """Return the steps ``drmkit demo`` runs for this key system (default: ``steps``)."""
        ...
