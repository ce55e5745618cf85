"""Statuses and typed exceptions of the media-key-session API, and drmkit's exception root.

Every exception class drmkit defines derives from :class:`DrmkitError`, so ``except DrmkitError``
catches whatever drmkit raises on purpose (the HAL's ``drmkit_hal.HalError`` family is the HAL's
own and stays separate). Every MKS operation either succeeds or raises a :class:`DrmError` subclass
that carries one :class:`MediaKeyErrorStatus` (Rialto's ``MediaKeyErrorStatus``, same order and
values, so the wire can carry the status as an integer). Start-up problems (configuration, plugins)
raise :class:`ConfigurationError` subclasses instead: they are not MKS statuses. The services
(license server, SRM, media, IPC, demo) derive their own bases from :class:`DrmkitError` too.
"""

from __future__ import annotations

from enum import IntEnum


class MediaKeyErrorStatus(IntEnum):
    """Result of an MKS operation (values match Rialto's proto ``ProtoMediaKeyErrorStatus``)."""

    OK = 0
    FAIL = 1
    BAD_SESSION_ID = 2
    NOT_SUPPORTED = 3
    INVALID_STATE = 4
    INTERFACE_NOT_IMPLEMENTED = 5
    BUFFER_TOO_SMALL = 6
    OUTPUT_RESTRICTED = 7


class DrmkitError(Exception):
    """Root of every exception class drmkit defines (MKS errors, configuration, services).

    It adds nothing to :class:`Exception`: subclasses keep their own arguments, messages, statuses
    and wire mappings. Catch it at a program's edge to tell drmkit's deliberate errors from bugs.
    """


class DrmError(DrmkitError):
    """Base of every MKS error; ``status`` is the non-OK status the operation ends with."""

    status: MediaKeyErrorStatus = MediaKeyErrorStatus.FAIL

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.status.name)
        self.message = message or self.status.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status.name})"


class FailError(DrmError):
    """Unspecified failure (``FAIL``): the CDM or the plugin could not do the operation."""

    status = MediaKeyErrorStatus.FAIL


class BadSessionIdError(DrmError):
    """The key session id (or media-keys handle) is not known (``BAD_SESSION_ID``)."""

    status = MediaKeyErrorStatus.BAD_SESSION_ID


class NotSupportedError(DrmError):
    """A key system, session type or init data type is not supported (``NOT_SUPPORTED``)."""

    status = MediaKeyErrorStatus.NOT_SUPPORTED


class InvalidStateError(DrmError):
    """The object is in the wrong state for the operation (``INVALID_STATE``)."""

    status = MediaKeyErrorStatus.INVALID_STATE


class InterfaceNotImplementedError(DrmError):
    """The key system or CDM does not implement the call (``INTERFACE_NOT_IMPLEMENTED``)."""

    status = MediaKeyErrorStatus.INTERFACE_NOT_IMPLEMENTED


class BufferTooSmallError(DrmError):
    """The result did not fit the largest buffer drmkit offers (``BUFFER_TOO_SMALL``)."""

    status = MediaKeyErrorStatus.BUFFER_TOO_SMALL


class OutputRestrictedError(DrmError):
    """Output protection (HDCP) forbids the operation, typically decrypt (``OUTPUT_RESTRICTED``)."""

    status = MediaKeyErrorStatus.OUTPUT_RESTRICTED


class InvalidInputError(FailError, ValueError):
    """Malformed caller input (init data, license, key id, sizes); status ``FAIL``.

    Also a :class:`ValueError`, so callers mapping to EME can treat it as a TypeError-class error.
    """


class InvalidInitDataError(InvalidInputError):
    """Init data that does not parse for its declared type (rejected before reaching the CDM)."""


class InvalidLicenseError(InvalidInputError):
    """A license / update response that does not parse (rejected before reaching the CDM)."""


class InvalidKeyIdError(InvalidInputError):
    """A key id of the wrong type or length."""


class LimitExceededError(FailError):
    """A configured limit (media keys, sessions) would be exceeded."""


class OperationTimeoutError(FailError):
    """A CDM call did not finish within the configured timeout."""


_BY_STATUS: dict[MediaKeyErrorStatus, type[DrmError]] = {
    MediaKeyErrorStatus.FAIL: FailError,
    MediaKeyErrorStatus.BAD_SESSION_ID: BadSessionIdError,
    MediaKeyErrorStatus.NOT_SUPPORTED: NotSupportedError,
    MediaKeyErrorStatus.INVALID_STATE: InvalidStateError,
    MediaKeyErrorStatus.INTERFACE_NOT_IMPLEMENTED: InterfaceNotImplementedError,
    MediaKeyErrorStatus.BUFFER_TOO_SMALL: BufferTooSmallError,
    MediaKeyErrorStatus.OUTPUT_RESTRICTED: OutputRestrictedError,
}


def error_for_status(status: MediaKeyErrorStatus | int, message: str = "") -> DrmError:
    """Return the typed exception for a non-OK ``status`` (``ValueError`` for ``OK``)."""
    status = MediaKeyErrorStatus(status)
    if status is MediaKeyErrorStatus.OK:
        raise ValueError("OK is not an error status")
    return _BY_STATUS[status](message)


def status_of(error: BaseException | None) -> MediaKeyErrorStatus:
    """Return the status an exception stands for (``OK`` for ``None``, ``FAIL`` if untyped)."""
    if error is None:
        return MediaKeyErrorStatus.OK
    if isinstance(error, DrmError):
        return error.status
    return MediaKeyErrorStatus.FAIL


class ConfigurationError(DrmkitError):
    """drmkit cannot start with the given configuration; the message says what to change."""


class PluginNotInstalledError(ConfigurationError):
    """An enabled plugin name has no installed entry point."""


class PluginLoadError(ConfigurationError):
    """A plugin failed to import or register; the message names it and shows the exception."""


class DuplicateKeySystemError(ConfigurationError):
    """Two enabled plugins claim the same key system."""
