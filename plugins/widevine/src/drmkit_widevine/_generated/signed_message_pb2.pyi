from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SignedMessage(_message.Message):
    __slots__ = ("type", "msg", "signature", "session_key", "remote_attestation")
    class MessageType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        LICENSE_REQUEST: _ClassVar[SignedMessage.MessageType]
        LICENSE: _ClassVar[SignedMessage.MessageType]
        ERROR_RESPONSE: _ClassVar[SignedMessage.MessageType]
        SERVICE_CERTIFICATE_REQUEST: _ClassVar[SignedMessage.MessageType]
        SERVICE_CERTIFICATE: _ClassVar[SignedMessage.MessageType]
        SUB_LICENSE: _ClassVar[SignedMessage.MessageType]
        CAS_LICENSE_REQUEST: _ClassVar[SignedMessage.MessageType]
        CAS_LICENSE: _ClassVar[SignedMessage.MessageType]
        EXTERNAL_LICENSE_REQUEST: _ClassVar[SignedMessage.MessageType]
        EXTERNAL_LICENSE: _ClassVar[SignedMessage.MessageType]
    LICENSE_REQUEST: SignedMessage.MessageType
    LICENSE: SignedMessage.MessageType
    ERROR_RESPONSE: SignedMessage.MessageType
    SERVICE_CERTIFICATE_REQUEST: SignedMessage.MessageType
    SERVICE_CERTIFICATE: SignedMessage.MessageType
    SUB_LICENSE: SignedMessage.MessageType
    CAS_LICENSE_REQUEST: SignedMessage.MessageType
    CAS_LICENSE: SignedMessage.MessageType
    EXTERNAL_LICENSE_REQUEST: SignedMessage.MessageType
    EXTERNAL_LICENSE: SignedMessage.MessageType
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MSG_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SESSION_KEY_FIELD_NUMBER: _ClassVar[int]
    REMOTE_ATTESTATION_FIELD_NUMBER: _ClassVar[int]
    type: SignedMessage.MessageType
    msg: bytes
    signature: bytes
    session_key: bytes
    remote_attestation: bytes
    def __init__(self, type: _Optional[_Union[SignedMessage.MessageType, str]] = ..., msg: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., session_key: _Optional[bytes] = ..., remote_attestation: _Optional[bytes] = ...) -> None: ...
