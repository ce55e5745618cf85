from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WidevinePsshData(_message.Message):
    __slots__ = ("algorithm", "key_ids", "provider", "content_id", "track_type", "policy", "crypto_period_index", "grouped_license", "protection_scheme", "crypto_period_seconds", "type", "key_sequence", "group_ids", "entitled_keys", "video_feature")
    class Type(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        SINGLE: _ClassVar[WidevinePsshData.Type]
        ENTITLEMENT: _ClassVar[WidevinePsshData.Type]
        ENTITLED_KEY: _ClassVar[WidevinePsshData.Type]
    SINGLE: WidevinePsshData.Type
    ENTITLEMENT: WidevinePsshData.Type
    ENTITLED_KEY: WidevinePsshData.Type
    class Algorithm(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNENCRYPTED: _ClassVar[WidevinePsshData.Algorithm]
        AESCTR: _ClassVar[WidevinePsshData.Algorithm]
    UNENCRYPTED: WidevinePsshData.Algorithm
    AESCTR: WidevinePsshData.Algorithm
    class EntitledKey(_message.Message):
        __slots__ = ("entitlement_key_id", "key_id", "key", "iv", "entitlement_key_size_bytes")
        ENTITLEMENT_KEY_ID_FIELD_NUMBER: _ClassVar[int]
        KEY_ID_FIELD_NUMBER: _ClassVar[int]
        KEY_FIELD_NUMBER: _ClassVar[int]
        IV_FIELD_NUMBER: _ClassVar[int]
        ENTITLEMENT_KEY_SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
        entitlement_key_id: bytes
        key_id: bytes
        key: bytes
        iv: bytes
        entitlement_key_size_bytes: int
        def __init__(self, entitlement_key_id: _Optional[bytes] = ..., key_id: _Optional[bytes] = ..., key: _Optional[bytes] = ..., iv: _Optional[bytes] = ..., entitlement_key_size_bytes: _Optional[int] = ...) -> None: ...
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    KEY_IDS_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    CONTENT_ID_FIELD_NUMBER: _ClassVar[int]
    TRACK_TYPE_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    CRYPTO_PERIOD_INDEX_FIELD_NUMBER: _ClassVar[int]
    GROUPED_LICENSE_FIELD_NUMBER: _ClassVar[int]
    PROTECTION_SCHEME_FIELD_NUMBER: _ClassVar[int]
    CRYPTO_PERIOD_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    KEY_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    GROUP_IDS_FIELD_NUMBER: _ClassVar[int]
    ENTITLED_KEYS_FIELD_NUMBER: _ClassVar[int]
    VIDEO_FEATURE_FIELD_NUMBER: _ClassVar[int]
    algorithm: WidevinePsshData.Algorithm
    key_ids: _containers.RepeatedScalarFieldContainer[bytes]
    provider: str
    content_id: bytes
    track_type: str
    policy: str
    crypto_period_index: int
    grouped_license: bytes
    protection_scheme: int
    crypto_period_seconds: int
    type: WidevinePsshData.Type
    key_sequence: int
    group_ids: _containers.RepeatedScalarFieldContainer[bytes]
    entitled_keys: _containers.RepeatedCompositeFieldContainer[WidevinePsshData.EntitledKey]
    video_feature: str
    def __init__(self, algorithm: _Optional[_Union[WidevinePsshData.Algorithm, str]] = ..., key_ids: _Optional[_Iterable[bytes]] = ..., provider: _Optional[str] = ..., content_id: _Optional[bytes] = ..., track_type: _Optional[str] = ..., policy: _Optional[str] = ..., crypto_period_index: _Optional[int] = ..., grouped_license: _Optional[bytes] = ..., protection_scheme: _Optional[int] = ..., crypto_period_seconds: _Optional[int] = ..., type: _Optional[_Union[WidevinePsshData.Type, str]] = ..., key_sequence: _Optional[int] = ..., group_ids: _Optional[_Iterable[bytes]] = ..., entitled_keys: _Optional[_Iterable[_Union[WidevinePsshData.EntitledKey, _Mapping]]] = ..., video_feature: _Optional[str] = ...) -> None: ...
