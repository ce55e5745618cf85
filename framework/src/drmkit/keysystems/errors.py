"""Translation of exceptions raised by plugins (and the HAL below them) into typed MKS errors.

The rule tells the caller's bad input from a plugin's own bug. Bad input is what drmkit's typed
``InvalidInputError`` family says, or what the HAL refuses before any C call
(``drmkit_hal.InvalidArgumentError``); a bare ``ValueError`` or ``TypeError`` raised by a plugin's
own code is that plugin's bug, reported as ``FAIL`` naming the plugin and hook.
"""

from __future__ import annotations

import functools
from typing import Any

from drmkit.errors import (
    DrmError,
    FailError,
    InvalidInputError,
    MediaKeyErrorStatus,
    error_for_status,
)


def translate_exception(exc: BaseException, where: str) -> DrmError:
    """Return the ``DrmError`` for an exception raised at ``where`` (``plugin.hook``).

    - a ``DrmError`` is kept as it is (its status, the ``InvalidInputError`` family included);
    - a HAL ``OcdmCallError`` maps its OCDM status (Rialto's table);
    - a HAL ``InvalidArgumentError`` (an argument the HAL refused before C) becomes
      ``InvalidInputError``;
    - anything else, a plain ``ValueError`` or ``TypeError`` from the plugin's code included,
      becomes ``FailError`` naming ``where`` and the exception.
    """
    if isinstance(exc, DrmError):
        return exc
    hal = _hal_errors()
    if hal is not None:
        call_error, argument_error = hal
        if isinstance(exc, call_error):
            return error_for_status(_ocdm_status(exc), f"{where}: {exc}")
        if isinstance(exc, argument_error):
            return InvalidInputError(f"{where}: {exc}")
    return FailError(f"{where} raised {type(exc).__name__}: {exc}")


@functools.cache
def _hal_errors() -> tuple[type[Exception], type[Exception]] | None:
    # Imported lazily: the HAL is optional for code that only lists plugins.
    try:
        from drmkit_hal import InvalidArgumentError, OcdmCallError
    except ImportError:  # pragma: no cover - the HAL is a dependency
        return None
    return OcdmCallError, InvalidArgumentError


def _ocdm_status(exc: Any) -> MediaKeyErrorStatus:
    from drmkit.sdk.ocdm_status import media_key_status_for

    status = media_key_status_for(int(exc.status))
    return MediaKeyErrorStatus.FAIL if status is MediaKeyErrorStatus.OK else status
