"""How MKS values travel in JSON: base64 bytes, decrypt metadata, capabilities, typed errors."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from drmkit import errors as errors_module
from drmkit.errors import DrmError, FailError, MediaKeyErrorStatus, error_for_status
from drmkit.ipc.jsonrpc import MKS_ERROR_BASE, RpcError
from drmkit.sdk.model import KeySystemCapabilities
from drmkit.types import CipherMode, DecryptParams, KeySessionType, Pattern, Subsample
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer


def b64encode(data: bytes | bytearray | memoryview) -> str:
    """Return standard base64 (with padding) of ``data``."""
    return base64.b64encode(data).decode("ascii")


def _decode_b64(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError("expected a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not valid base64") from None


B64Bytes = Annotated[bytes, BeforeValidator(_decode_b64), PlainSerializer(b64encode)]
"""Bytes carried as a standard base64 string."""


NonNegative = Annotated[int, Field(ge=0, le=2**32 - 1)]
Pair = Annotated[list[NonNegative], Field(min_length=2, max_length=2)]
"""Two non-negative integers (a subsample ``[clear, encrypted]`` or a pattern ``[crypt, skip]``)."""


class Params(BaseModel):
    """Base of parameter models: unknown names are an error; no type coercion."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DecryptMetadata(Params):
    """Protection metadata of one sample (``subsamples`` as ``[clear, encrypted]`` pairs)."""

    cipher_mode: CipherMode = Field(strict=False)
    key_id: B64Bytes = b""
    iv: B64Bytes
    subsamples: list[Pair] = Field(default_factory=list, max_length=4096)
    pattern: Pair = Field(default_factory=lambda: [0, 0])
    init_with_last_15: bool = False

    def to_params(self) -> DecryptParams:
        """Return the core's :class:`DecryptParams`."""
        return DecryptParams(
            self.cipher_mode,
            self.key_id,
            self.iv,
            tuple(Subsample(c, e) for c, e in self.subsamples),
            Pattern(*self.pattern),
            self.init_with_last_15,
        )


# Samples per ``decrypt_many`` request: bounds the views one request pins and one worker job.
MAX_DECRYPT_BATCH = 64


def decrypt_metadata(params: DecryptParams) -> dict[str, Any]:
    """Return the wire form of ``params``."""
    return {
        "cipher_mode": str(CipherMode(params.cipher_mode)),
        "key_id": b64encode(params.key_id),
        "iv": b64encode(params.iv),
        "subsamples": [[int(c), int(e)] for c, e in params.subsamples],
        "pattern": [int(params.pattern[0]), int(params.pattern[1])],
        "init_with_last_15": bool(params.init_with_last_15),
    }


def capabilities_to_wire(capabilities: KeySystemCapabilities) -> dict[str, Any]:
    """Return the wire form of a key system's capabilities (session types as integers)."""
    return {
        "init_data_types": sorted(capabilities.init_data_types),
        "session_types": sorted(int(t) for t in capabilities.session_types),
        "encryption_schemes": sorted(str(s) for s in capabilities.encryption_schemes),
        "robustness_levels": list(capabilities.robustness_levels),
        "server_certificate": capabilities.server_certificate,
        "repeatable_generate_request": capabilities.repeatable_generate_request,
    }


def capabilities_from_wire(data: dict[str, Any]) -> KeySystemCapabilities:
    """Rebuild :class:`KeySystemCapabilities` from its wire form."""
    return KeySystemCapabilities(
        init_data_types=frozenset(data["init_data_types"]),
        session_types=frozenset(KeySessionType(t) for t in data["session_types"]),
        encryption_schemes=frozenset(CipherMode(s) for s in data["encryption_schemes"]),
        robustness_levels=tuple(data["robustness_levels"]),
        server_certificate=bool(data["server_certificate"]),
        repeatable_generate_request=bool(data["repeatable_generate_request"]),
    )


def _drm_error_classes() -> dict[str, type[DrmError]]:
    found: dict[str, type[DrmError]] = {}
    for name in dir(errors_module):
        value = getattr(errors_module, name)
        if isinstance(value, type) and issubclass(value, DrmError):
            found[name] = value
    return found


_ERROR_CLASSES = _drm_error_classes()


def exception_from_rpc_error(error: RpcError) -> DrmError | None:
    """Return the MKS exception an error object stands for (``None`` if it is not an MKS one).

    The exception class named in ``data.error`` is used when drmkit knows it and it carries the
    same status; otherwise the class of the status.
    """
    status_value = error.code - MKS_ERROR_BASE
    try:
        status = MediaKeyErrorStatus(status_value)
    except ValueError:
        return None
    if status is MediaKeyErrorStatus.OK:
        return None
    data = error.data if isinstance(error.data, dict) else {}
    cls = _ERROR_CLASSES.get(str(data.get("error", "")))
    exc: BaseException | None
    if cls is not None and cls.status is status:
        exc = cls(error.message)
    else:
        exc = error_for_status(status, error.message)
    result = exc if isinstance(exc, DrmError) else FailError(error.message)
    notes = data.get("notes")
    if isinstance(notes, list):
        for note in notes:
            result.add_note(str(note))
    return result
