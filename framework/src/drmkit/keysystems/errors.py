"""Translation of exceptions raised by plugins (and the HAL below them) into typed MKS errors."""

from __future__ import annotations

from drmkit.errors import (
    DrmError,
    FailError,
    InvalidInputError,
    MediaKeyErrorStatus,
    error_for_status,
)


def translate_exception(exc: BaseException, where: str) -> DrmError:
    """Return the ``DrmError`` for an exception raised at ``where`` (``plugin.hook``).

    A ``DrmError`` is kept; a HAL ``OcdmCallError`` maps its OCDM status (Rialto's table);
    ``ValueError`` (HAL-side argument checks) becomes ``InvalidInputError``; anything else
    ``FailError`` naming ``where`` and the exception.
    """
    if isinstance(exc, DrmError):
        return exc
    status = _ocdm_status(exc)
    if status is not None:
        mapped = error_for_status(status, f"{where}: {exc}")
        return mapped
    if isinstance(exc, ValueError):
        return InvalidInputError(f"{where}: {exc}")
    return FailError(f"{where} raised {type(exc).__name__}: {exc}")


def _ocdm_status(exc: BaseException) -> MediaKeyErrorStatus | None:
    # Imported lazily: the HAL is optional for code that only lists plugins.
    try:
        from drmkit_hal import OcdmCallError
    except ImportError:  # pragma: no cover - the HAL is a dependency
        return None
    if not isinstance(exc, OcdmCallError):
        return None
    from drmkit.sdk.ocdm_status import media_key_status_for

    status = media_key_status_for(int(exc.status))
    return MediaKeyErrorStatus.FAIL if status is MediaKeyErrorStatus.OK else status
