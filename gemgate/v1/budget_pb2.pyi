from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class KeyIdentity(_message.Message):
    __slots__ = ("is_master", "key_hash", "key_alias", "team_id", "user_id", "models", "metadata", "aliases", "team_models")
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
    TEAM_MODELS_FIELD_NUMBER: _ClassVar[int]
    is_master: bool
    key_hash: str
    key_alias: str
    team_id: str
    user_id: str
    models: _containers.RepeatedScalarFieldContainer[str]
    metadata: _struct_pb2.Struct
    aliases: _containers.ScalarMap[str, str]
    team_models: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, is_master: bool = ..., key_hash: _Optional[str] = ..., key_alias: _Optional[str] = ..., team_id: _Optional[str] = ..., user_id: _Optional[str] = ..., models: _Optional[_Iterable[str]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., aliases: _Optional[_Mapping[str, str]] = ..., team_models: _Optional[_Iterable[str]] = ...) -> None: ...

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
    __slots__ = ("api_key", "request_id", "model", "estimated_cost_micros", "estimated_tokens", "router_id", "extend", "lease_seconds", "started")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_COST_MICROS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    ROUTER_ID_FIELD_NUMBER: _ClassVar[int]
    EXTEND_FIELD_NUMBER: _ClassVar[int]
    LEASE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    STARTED_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    request_id: str
    model: str
    estimated_cost_micros: int
    estimated_tokens: int
    router_id: str
    extend: bool
    lease_seconds: float
    started: bool
    def __init__(self, api_key: _Optional[str] = ..., request_id: _Optional[str] = ..., model: _Optional[str] = ..., estimated_cost_micros: _Optional[int] = ..., estimated_tokens: _Optional[int] = ..., router_id: _Optional[str] = ..., extend: bool = ..., lease_seconds: _Optional[float] = ..., started: bool = ...) -> None: ...

class ReserveBatchRequest(_message.Message):
    __slots__ = ("items", "settles")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    SETTLES_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ReserveRequest]
    settles: _containers.RepeatedCompositeFieldContainer[SettleRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[ReserveRequest, _Mapping]]] = ..., settles: _Optional[_Iterable[_Union[SettleRequest, _Mapping]]] = ...) -> None: ...

class ReserveOutcome(_message.Message):
    __slots__ = ("ok", "error")
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ok: ReserveResponse
    error: bytes
    def __init__(self, ok: _Optional[_Union[ReserveResponse, _Mapping]] = ..., error: _Optional[bytes] = ...) -> None: ...

class ReserveBatchResponse(_message.Message):
    __slots__ = ("items", "settled")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    SETTLED_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[ReserveOutcome]
    settled: _containers.RepeatedCompositeFieldContainer[SettleOutcome]
    def __init__(self, items: _Optional[_Iterable[_Union[ReserveOutcome, _Mapping]]] = ..., settled: _Optional[_Iterable[_Union[SettleOutcome, _Mapping]]] = ...) -> None: ...

class SettleBatchRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[SettleRequest]
    def __init__(self, items: _Optional[_Iterable[_Union[SettleRequest, _Mapping]]] = ...) -> None: ...

class SettleOutcome(_message.Message):
    __slots__ = ("ok", "error")
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ok: SettleResponse
    error: bytes
    def __init__(self, ok: _Optional[_Union[SettleResponse, _Mapping]] = ..., error: _Optional[bytes] = ...) -> None: ...

class SettleBatchResponse(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[SettleOutcome]
    def __init__(self, items: _Optional[_Iterable[_Union[SettleOutcome, _Mapping]]] = ...) -> None: ...

class ReserveResponse(_message.Message):
    __slots__ = ("identity", "reserved_micros")
    IDENTITY_FIELD_NUMBER: _ClassVar[int]
    RESERVED_MICROS_FIELD_NUMBER: _ClassVar[int]
    identity: KeyIdentity
    reserved_micros: int
    def __init__(self, identity: _Optional[_Union[KeyIdentity, _Mapping]] = ..., reserved_micros: _Optional[int] = ...) -> None: ...

class SettleRequest(_message.Message):
    __slots__ = ("request_id", "actual_cost_micros", "actual_tokens", "model", "success", "log")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_COST_MICROS_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    actual_cost_micros: int
    actual_tokens: int
    model: str
    success: bool
    log: SpendLogEntry
    def __init__(self, request_id: _Optional[str] = ..., actual_cost_micros: _Optional[int] = ..., actual_tokens: _Optional[int] = ..., model: _Optional[str] = ..., success: bool = ..., log: _Optional[_Union[SpendLogEntry, _Mapping]] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("router_id", "lease_seconds", "started_request_ids")
    ROUTER_ID_FIELD_NUMBER: _ClassVar[int]
    LEASE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    STARTED_REQUEST_IDS_FIELD_NUMBER: _ClassVar[int]
    router_id: str
    lease_seconds: float
    started_request_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, router_id: _Optional[str] = ..., lease_seconds: _Optional[float] = ..., started_request_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("marked",)
    MARKED_FIELD_NUMBER: _ClassVar[int]
    marked: int
    def __init__(self, marked: _Optional[int] = ...) -> None: ...

class SettleResponse(_message.Message):
    __slots__ = ("applied", "charged_micros")
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    CHARGED_MICROS_FIELD_NUMBER: _ClassVar[int]
    applied: bool
    charged_micros: int
    def __init__(self, applied: bool = ..., charged_micros: _Optional[int] = ...) -> None: ...

class KeySpec(_message.Message):
    __slots__ = ("models", "models_set", "max_budget", "clear_max_budget", "budget_duration", "tpm_limit", "rpm_limit", "max_parallel_requests", "key_alias", "team_id", "user_id", "metadata", "metadata_set", "duration", "aliases", "aliases_set", "blocked")
    class AliasesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODELS_FIELD_NUMBER: _ClassVar[int]
    MODELS_SET_FIELD_NUMBER: _ClassVar[int]
    MAX_BUDGET_FIELD_NUMBER: _ClassVar[int]
    CLEAR_MAX_BUDGET_FIELD_NUMBER: _ClassVar[int]
    BUDGET_DURATION_FIELD_NUMBER: _ClassVar[int]
    TPM_LIMIT_FIELD_NUMBER: _ClassVar[int]
    RPM_LIMIT_FIELD_NUMBER: _ClassVar[int]
    MAX_PARALLEL_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    KEY_ALIAS_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    METADATA_SET_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    ALIASES_SET_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedScalarFieldContainer[str]
    models_set: bool
    max_budget: float
    clear_max_budget: bool
    budget_duration: str
    tpm_limit: int
    rpm_limit: int
    max_parallel_requests: int
    key_alias: str
    team_id: str
    user_id: str
    metadata: _struct_pb2.Struct
    metadata_set: bool
    duration: str
    aliases: _containers.ScalarMap[str, str]
    aliases_set: bool
    blocked: bool
    def __init__(self, models: _Optional[_Iterable[str]] = ..., models_set: bool = ..., max_budget: _Optional[float] = ..., clear_max_budget: bool = ..., budget_duration: _Optional[str] = ..., tpm_limit: _Optional[int] = ..., rpm_limit: _Optional[int] = ..., max_parallel_requests: _Optional[int] = ..., key_alias: _Optional[str] = ..., team_id: _Optional[str] = ..., user_id: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., metadata_set: bool = ..., duration: _Optional[str] = ..., aliases: _Optional[_Mapping[str, str]] = ..., aliases_set: bool = ..., blocked: bool = ...) -> None: ...

class KeyInfo(_message.Message):
    __slots__ = ("token", "key_name", "key_alias", "team_id", "user_id", "models", "max_budget", "budget_duration", "tpm_limit", "rpm_limit", "max_parallel_requests", "metadata", "aliases", "spend", "total_spend", "expires", "blocked", "created_at", "budget_reset_at")
    class AliasesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    KEY_NAME_FIELD_NUMBER: _ClassVar[int]
    KEY_ALIAS_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    MAX_BUDGET_FIELD_NUMBER: _ClassVar[int]
    BUDGET_DURATION_FIELD_NUMBER: _ClassVar[int]
    TPM_LIMIT_FIELD_NUMBER: _ClassVar[int]
    RPM_LIMIT_FIELD_NUMBER: _ClassVar[int]
    MAX_PARALLEL_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    SPEND_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SPEND_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    BUDGET_RESET_AT_FIELD_NUMBER: _ClassVar[int]
    token: str
    key_name: str
    key_alias: str
    team_id: str
    user_id: str
    models: _containers.RepeatedScalarFieldContainer[str]
    max_budget: float
    budget_duration: str
    tpm_limit: int
    rpm_limit: int
    max_parallel_requests: int
    metadata: _struct_pb2.Struct
    aliases: _containers.ScalarMap[str, str]
    spend: float
    total_spend: float
    expires: str
    blocked: bool
    created_at: str
    budget_reset_at: str
    def __init__(self, token: _Optional[str] = ..., key_name: _Optional[str] = ..., key_alias: _Optional[str] = ..., team_id: _Optional[str] = ..., user_id: _Optional[str] = ..., models: _Optional[_Iterable[str]] = ..., max_budget: _Optional[float] = ..., budget_duration: _Optional[str] = ..., tpm_limit: _Optional[int] = ..., rpm_limit: _Optional[int] = ..., max_parallel_requests: _Optional[int] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., aliases: _Optional[_Mapping[str, str]] = ..., spend: _Optional[float] = ..., total_spend: _Optional[float] = ..., expires: _Optional[str] = ..., blocked: bool = ..., created_at: _Optional[str] = ..., budget_reset_at: _Optional[str] = ...) -> None: ...

class KeyRef(_message.Message):
    __slots__ = ("api_key", "key")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    key: str
    def __init__(self, api_key: _Optional[str] = ..., key: _Optional[str] = ...) -> None: ...

class GenerateKeyRequest(_message.Message):
    __slots__ = ("api_key", "spec", "key")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    spec: KeySpec
    key: str
    def __init__(self, api_key: _Optional[str] = ..., spec: _Optional[_Union[KeySpec, _Mapping]] = ..., key: _Optional[str] = ...) -> None: ...

class GenerateKeyResponse(_message.Message):
    __slots__ = ("key", "info")
    KEY_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    key: str
    info: KeyInfo
    def __init__(self, key: _Optional[str] = ..., info: _Optional[_Union[KeyInfo, _Mapping]] = ...) -> None: ...

class KeyInfoResponse(_message.Message):
    __slots__ = ("info",)
    INFO_FIELD_NUMBER: _ClassVar[int]
    info: KeyInfo
    def __init__(self, info: _Optional[_Union[KeyInfo, _Mapping]] = ...) -> None: ...

class UpdateKeyRequest(_message.Message):
    __slots__ = ("api_key", "key", "spec")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    key: str
    spec: KeySpec
    def __init__(self, api_key: _Optional[str] = ..., key: _Optional[str] = ..., spec: _Optional[_Union[KeySpec, _Mapping]] = ...) -> None: ...

class DeleteKeysRequest(_message.Message):
    __slots__ = ("api_key", "keys")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, api_key: _Optional[str] = ..., keys: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteKeysResponse(_message.Message):
    __slots__ = ("deleted_keys",)
    DELETED_KEYS_FIELD_NUMBER: _ClassVar[int]
    deleted_keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, deleted_keys: _Optional[_Iterable[str]] = ...) -> None: ...

class ListKeysRequest(_message.Message):
    __slots__ = ("api_key", "team_id", "user_id")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    team_id: str
    user_id: str
    def __init__(self, api_key: _Optional[str] = ..., team_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class ListKeysResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[KeyInfo]
    def __init__(self, keys: _Optional[_Iterable[_Union[KeyInfo, _Mapping]]] = ...) -> None: ...

class EntitySpec(_message.Message):
    __slots__ = ("alias", "models", "models_set", "max_budget", "clear_max_budget", "budget_duration", "tpm_limit", "rpm_limit", "max_parallel_requests", "metadata", "metadata_set")
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    MODELS_SET_FIELD_NUMBER: _ClassVar[int]
    MAX_BUDGET_FIELD_NUMBER: _ClassVar[int]
    CLEAR_MAX_BUDGET_FIELD_NUMBER: _ClassVar[int]
    BUDGET_DURATION_FIELD_NUMBER: _ClassVar[int]
    TPM_LIMIT_FIELD_NUMBER: _ClassVar[int]
    RPM_LIMIT_FIELD_NUMBER: _ClassVar[int]
    MAX_PARALLEL_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    METADATA_SET_FIELD_NUMBER: _ClassVar[int]
    alias: str
    models: _containers.RepeatedScalarFieldContainer[str]
    models_set: bool
    max_budget: float
    clear_max_budget: bool
    budget_duration: str
    tpm_limit: int
    rpm_limit: int
    max_parallel_requests: int
    metadata: _struct_pb2.Struct
    metadata_set: bool
    def __init__(self, alias: _Optional[str] = ..., models: _Optional[_Iterable[str]] = ..., models_set: bool = ..., max_budget: _Optional[float] = ..., clear_max_budget: bool = ..., budget_duration: _Optional[str] = ..., tpm_limit: _Optional[int] = ..., rpm_limit: _Optional[int] = ..., max_parallel_requests: _Optional[int] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., metadata_set: bool = ...) -> None: ...

class EntityInfo(_message.Message):
    __slots__ = ("id", "alias", "models", "max_budget", "budget_duration", "tpm_limit", "rpm_limit", "max_parallel_requests", "metadata", "spend", "total_spend", "created_at", "budget_reset_at", "keys")
    ID_FIELD_NUMBER: _ClassVar[int]
    ALIAS_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    MAX_BUDGET_FIELD_NUMBER: _ClassVar[int]
    BUDGET_DURATION_FIELD_NUMBER: _ClassVar[int]
    TPM_LIMIT_FIELD_NUMBER: _ClassVar[int]
    RPM_LIMIT_FIELD_NUMBER: _ClassVar[int]
    MAX_PARALLEL_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SPEND_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SPEND_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    BUDGET_RESET_AT_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    id: str
    alias: str
    models: _containers.RepeatedScalarFieldContainer[str]
    max_budget: float
    budget_duration: str
    tpm_limit: int
    rpm_limit: int
    max_parallel_requests: int
    metadata: _struct_pb2.Struct
    spend: float
    total_spend: float
    created_at: str
    budget_reset_at: str
    keys: _containers.RepeatedCompositeFieldContainer[KeyInfo]
    def __init__(self, id: _Optional[str] = ..., alias: _Optional[str] = ..., models: _Optional[_Iterable[str]] = ..., max_budget: _Optional[float] = ..., budget_duration: _Optional[str] = ..., tpm_limit: _Optional[int] = ..., rpm_limit: _Optional[int] = ..., max_parallel_requests: _Optional[int] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., spend: _Optional[float] = ..., total_spend: _Optional[float] = ..., created_at: _Optional[str] = ..., budget_reset_at: _Optional[str] = ..., keys: _Optional[_Iterable[_Union[KeyInfo, _Mapping]]] = ...) -> None: ...

class TeamRequest(_message.Message):
    __slots__ = ("api_key", "id", "spec")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    id: str
    spec: EntitySpec
    def __init__(self, api_key: _Optional[str] = ..., id: _Optional[str] = ..., spec: _Optional[_Union[EntitySpec, _Mapping]] = ...) -> None: ...

class EntityRef(_message.Message):
    __slots__ = ("api_key", "id")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    id: str
    def __init__(self, api_key: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class EntityInfoResponse(_message.Message):
    __slots__ = ("info",)
    INFO_FIELD_NUMBER: _ClassVar[int]
    info: EntityInfo
    def __init__(self, info: _Optional[_Union[EntityInfo, _Mapping]] = ...) -> None: ...

class SpendRequest(_message.Message):
    __slots__ = ("api_key", "view")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    view: str
    def __init__(self, api_key: _Optional[str] = ..., view: _Optional[str] = ...) -> None: ...

class SpendRow(_message.Message):
    __slots__ = ("name", "token", "key_alias", "spend", "max_budget", "user_id", "team_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    KEY_ALIAS_FIELD_NUMBER: _ClassVar[int]
    SPEND_FIELD_NUMBER: _ClassVar[int]
    MAX_BUDGET_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    token: str
    key_alias: str
    spend: float
    max_budget: float
    user_id: str
    team_id: str
    def __init__(self, name: _Optional[str] = ..., token: _Optional[str] = ..., key_alias: _Optional[str] = ..., spend: _Optional[float] = ..., max_budget: _Optional[float] = ..., user_id: _Optional[str] = ..., team_id: _Optional[str] = ...) -> None: ...

class SpendResponse(_message.Message):
    __slots__ = ("total_spend", "rows")
    TOTAL_SPEND_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    total_spend: float
    rows: _containers.RepeatedCompositeFieldContainer[SpendRow]
    def __init__(self, total_spend: _Optional[float] = ..., rows: _Optional[_Iterable[_Union[SpendRow, _Mapping]]] = ...) -> None: ...

class SpendLogEntry(_message.Message):
    __slots__ = ("call_type", "api_key", "key_alias", "end_user", "model_group", "model_id", "model", "custom_llm_provider", "prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens", "reasoning_tokens", "start_time", "end_time", "status", "request_tags", "metadata", "request_id", "team_id", "user_id", "spend_micros", "charged_at", "charge")
    CALL_TYPE_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    KEY_ALIAS_FIELD_NUMBER: _ClassVar[int]
    END_USER_FIELD_NUMBER: _ClassVar[int]
    MODEL_GROUP_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_LLM_PROVIDER_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CACHED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    REASONING_TOKENS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_TAGS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SPEND_MICROS_FIELD_NUMBER: _ClassVar[int]
    CHARGED_AT_FIELD_NUMBER: _ClassVar[int]
    CHARGE_FIELD_NUMBER: _ClassVar[int]
    call_type: str
    api_key: str
    key_alias: str
    end_user: str
    model_group: str
    model_id: str
    model: str
    custom_llm_provider: str
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    start_time: float
    end_time: float
    status: str
    request_tags: _containers.RepeatedScalarFieldContainer[str]
    metadata: _struct_pb2.Struct
    request_id: str
    team_id: str
    user_id: str
    spend_micros: int
    charged_at: float
    charge: str
    def __init__(self, call_type: _Optional[str] = ..., api_key: _Optional[str] = ..., key_alias: _Optional[str] = ..., end_user: _Optional[str] = ..., model_group: _Optional[str] = ..., model_id: _Optional[str] = ..., model: _Optional[str] = ..., custom_llm_provider: _Optional[str] = ..., prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ..., cached_tokens: _Optional[int] = ..., reasoning_tokens: _Optional[int] = ..., start_time: _Optional[float] = ..., end_time: _Optional[float] = ..., status: _Optional[str] = ..., request_tags: _Optional[_Iterable[str]] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., request_id: _Optional[str] = ..., team_id: _Optional[str] = ..., user_id: _Optional[str] = ..., spend_micros: _Optional[int] = ..., charged_at: _Optional[float] = ..., charge: _Optional[str] = ...) -> None: ...
