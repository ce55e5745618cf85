"""drmkit HAL: the cffi binding of the OpenCDM (OCDM) C ABI.

See ``docs/hal.md`` for the contract. ``Hal.open(HalConfig(...))`` loads the configured OCDM
library (drmkit's bundled reference CDM by default); ``Hal.create_system`` gives a ``CdmSystem``,
whose ``construct_session`` gives ``CdmSession`` objects that decrypt in place.
"""

try:
    from . import _ocdm  # noqa: F401  (the cffi extension, built by hal/setup.py)
except ImportError as exc:  # pragma: no cover - a broken install
    raise ImportError(
        "drmkit_hal's C extension is not built; rebuild the package "
        "(`uv sync --reinstall-package drmkit-hal`, or `pip install ./hal`)"
    ) from exc

from ._callbacks import SessionCallbacks
from ._hal import Hal, HalConfig, library_profile
from ._library import LIBRARY_ENV_VAR, bundled_library_path, default_library_path
from ._profile import (
    KNOWN_QUIRKS,
    CdmProfile,
    LibraryProfile,
    ProfileError,
    builtin_profiles,
    load_profile_file,
    resolve_profile,
)
from ._session import CdmSession
from ._system import CdmSystem
from ._types import (
    DecryptVariant,
    EncryptionScheme,
    LicenseType,
    MediaProperties,
    MediaType,
    OcdmKeyStatus,
    OcdmStatus,
    Pattern,
    PlayLevels,
    Subsample,
)
from .errors import (
    DecryptNotSupportedError,
    ExtensionNotSupportedError,
    HalError,
    InvalidArgumentError,
    InvalidBufferError,
    LibraryLoadError,
    OcdmCallError,
)

__all__ = [
    "KNOWN_QUIRKS",
    "LIBRARY_ENV_VAR",
    "CdmProfile",
    "CdmSession",
    "CdmSystem",
    "DecryptNotSupportedError",
    "DecryptVariant",
    "EncryptionScheme",
    "ExtensionNotSupportedError",
    "Hal",
    "HalConfig",
    "HalError",
    "InvalidArgumentError",
    "InvalidBufferError",
    "LibraryLoadError",
    "LibraryProfile",
    "LicenseType",
    "MediaProperties",
    "MediaType",
    "OcdmCallError",
    "OcdmKeyStatus",
    "OcdmStatus",
    "Pattern",
    "PlayLevels",
    "ProfileError",
    "SessionCallbacks",
    "Subsample",
    "builtin_profiles",
    "bundled_library_path",
    "default_library_path",
    "library_profile",
    "load_profile_file",
    "resolve_profile",
]
