"""Widevine license responses: the ``SignedMessage`` envelope checked before the CDM.

A Widevine license service answers with a ``SignedMessage`` protobuf (``proto/
signed_message.proto``). The plugin decodes only the envelope: bytes that are not protobuf, a
message without a type or payload, or a *request* type sent back as a response are refused with
``InvalidLicenseError``; the payload and its signature are the CDM's to verify.
"""

from __future__ import annotations

from drmkit.sdk import InvalidLicenseError
from google.protobuf.message import DecodeError

from drmkit_widevine._generated.signed_message_pb2 import SignedMessage

_REQUEST_TYPES = frozenset(
    {
        SignedMessage.LICENSE_REQUEST,
        SignedMessage.SERVICE_CERTIFICATE_REQUEST,
        SignedMessage.CAS_LICENSE_REQUEST,
        SignedMessage.EXTERNAL_LICENSE_REQUEST,
    }
)


def check_signed_response(data: bytes) -> str:
    """Return the response's message type name; ``InvalidLicenseError`` if it cannot be one."""
    message = SignedMessage()
    try:
        message.ParseFromString(data)
    except (DecodeError, RecursionError) as exc:
        raise InvalidLicenseError(f"not a Widevine SignedMessage: {exc}") from None
    if not message.HasField("type"):
        raise InvalidLicenseError("the Widevine SignedMessage has no (known) message type")
    name = SignedMessage.MessageType.Name(message.type)
    if message.type in _REQUEST_TYPES:
        raise InvalidLicenseError(f"a Widevine {name} is a request, not a license response")
    if not message.msg:
        raise InvalidLicenseError(f"the Widevine {name} carries no message")
    return name


def build_signed_message(message_type: str, msg: bytes, signature: bytes = b"") -> bytes:
    """Build a ``SignedMessage`` (tests and tools)."""
    message = SignedMessage(type=message_type, msg=msg)  # the enum value by name
    if signature:
        message.signature = signature
    return message.SerializeToString(deterministic=True)
