from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class KeyIdentity(_message.Message):
    __slots__ = ("is_master", "key_hash", "key_alias", "team_id", "user_id", "models", "metadata", "aliases")
    class AliasesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    IS_MASTER_FIELD_NUMBER: _ClassVar[int]
    KEY_HASH_FIELD_NUMBER: _ClassVar[int]
    KEY_ALIAS_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    is_master: bool
    key_hash: str
    key_alias: str
    team_id: str
    user_id: str
    models: _containers.RepeatedScalarFieldContainer[str]
    metadata: _struct_pb2.Struct
    aliases: _containers.ScalarMap[str, str]
    def __init__(self, is_master: bool = ..., key_hash: _Optional[str] = ..., key_alias: _Optional[str] = ..., team_id: _Optional[str] = ..., user_id: _Optional[str] = ..., models: _Optional[_Iterable[str]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., aliases: _Optional[_Mapping[str, str]] = ...) -> None: ...

class AuthorizeRequest(_message.Message):
    __slots__ = ("api_key", "model")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    model: str
    def __init__(self, api_key: _Optional[str] = ..., model: _Optional[str] = ...) -> None: ...

class AuthorizeResponse(_message.Message):
    __slots__ = ("identity",)
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    identity: KeyIdentity
    def __init__(self, identity: _Optional[_Union[KeyIdentity, _Mapping]] = ...) -> None: ...

class ReserveRequest(_message.Message):
    __slots__ = ("api_key", "request_id", "model", "estimated_cost_micros", "estimated_tokens")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_COST_MICROS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    request_id: str
    model: str
    estimated_cost_micros: int
    estimated_tokens: int
    def __init__(self, api_key: _Optional[str] = ..., request_id: _Optional[str] = ..., model: _Optional[str] = ..., estimated_cost_micros: _Optional[int] = ..., estimated_tokens: _Optional[int] = ...) -> None: ...

class ReserveResponse(_message.Message):
    __slots__ = ("identity", "reserved_micros")
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    RESERVED_MICROS_FIELD_NUMBER: _ClassVar[int]
    identity: KeyIdentity
    reserved_micros: int
    def __init__(self, identity: _Optional[_Union[KeyIdentity, _Mapping]] = ..., reserved_micros: _Optional[int] = ...) -> None: ...

class SettleRequest(_message.Message):
    __slots__ = ("request_id", "actual_cost_micros", "actual_tokens", "model", "success")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_COST_MICROS_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    actual_cost_micros: int
    actual_tokens: int
    model: str
    success: bool
    def __init__(self, request_id: _Optional[str] = ..., actual_cost_micros: _Optional[int] = ..., actual_tokens: _Optional[int] = ..., model: _Optional[str] = ..., success: bool = ...) -> None: ...

class SettleResponse(_message.Message):
    __slots__ = ("applied", "charged_micros")
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    CHARGED_MICROS_FIELD_NUMBER: _ClassVar[int]
    applied: bool
    charged_micros: int
    def __init__(self, applied: bool = ..., charged_micros: _Optional[int] = ...) -> None: ...
