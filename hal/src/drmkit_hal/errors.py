"""Exceptions raised by the HAL."""

from __future__ import annotations

from ._types import OcdmStatus


class HalError(Exception):
    """Base of every HAL error; also raised for calls on a closed HAL or destructed object."""


class InvalidArgumentError(ValueError):
    """An argument the HAL refuses before any C call (a length, size, scheme, pattern, enum value).

    A :class:`ValueError`, so callers that catch ``ValueError`` keep working; not a
    :class:`HalError`, which says the HAL, the library or the CDM could not do a call. Its own
    class lets callers (drmkit's exception translation) tell a refused argument from a
    ``ValueError`` raised anywhere else.
    """


class InvalidBufferError(InvalidArgumentError, TypeError):
    """A decrypt buffer that is not writable and contiguous; also a :class:`TypeError`."""


class LibraryLoadError(HalError):
    """The OCDM library could not be loaded or lacks required symbols."""

    def __init__(self, path: str, message: str, missing: tuple[str, ...] = ()) -> None:
        self.path = path
        self.missing = missing
        super().__init__(f"cannot load OCDM library {path}: {message}")


class OcdmCallError(HalError):
    """An OCDM call failed: ``function`` is the C function, ``status`` its ``OpenCDMError``."""

    def __init__(self, function: str, status: OcdmStatus | int, message: str = "") -> None:
        self.function = function
        self.status = OcdmStatus.of(int(status))
        self.message = message
        name = self.status.name if isinstance(self.status, OcdmStatus) else hex(self.status)
        detail = f": {message}" if message else ""
        super().__init__(f"{function} failed with {name} ({int(self.status):#x}){detail}")


class DecryptNotSupportedError(HalError):
    """The configured decrypt variant cannot decrypt this scheme/subsample combination."""


class ExtensionNotSupportedError(OcdmCallError):
    """An OCDM extension call on a system whose CDM has no extension interface.

    Refused by the HAL before reaching the library: Thunder's client dereferences a NULL
    ``ISessionExt`` on such sessions and kills the process. ``status`` is
    ``METHOD_NOT_IMPLEMENTED``.
    """

    def __init__(self, function: str, key_system: str, profile: str) -> None:
        super().__init__(
            function,
            OcdmStatus.METHOD_NOT_IMPLEMENTED,
            f"{key_system} has no OCDM extension interface on this CDM (profile {profile})",
        )
