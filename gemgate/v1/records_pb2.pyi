from gemgate.v1 import budget_pb2 as _budget_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SpendLogsRequest(_message.Message):
    __slots__ = ("api_key", "key", "user_id", "team_id", "request_id", "start", "end", "page", "page_size")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TEAM_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    key: str
    user_id: str
    team_id: str
    request_id: str
    start: float
    end: float
    page: int
    page_size: int
    def __init__(self, api_key: _Optional[str] = ..., key: _Optional[str] = ..., user_id: _Optional[str] = ..., team_id: _Optional[str] = ..., request_id: _Optional[str] = ..., start: _Optional[float] = ..., end: _Optional[float] = ..., page: _Optional[int] = ..., page_size: _Optional[int] = ...) -> None: ...

class SpendLogsResponse(_message.Message):
    __slots__ = ("rows", "total")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[_budget_pb2.SpendLogEntry]
    total: int
    def __init__(self, rows: _Optional[_Iterable[_Union[_budget_pb2.SpendLogEntry, _Mapping]]] = ..., total: _Optional[int] = ...) -> None: ...

class SpendReportRequest(_message.Message):
    __slots__ = ("api_key", "start", "end", "group_by")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    start: float
    end: float
    group_by: str
    def __init__(self, api_key: _Optional[str] = ..., start: _Optional[float] = ..., end: _Optional[float] = ..., group_by: _Optional[str] = ...) -> None: ...

class SpendReportRow(_message.Message):
    __slots__ = ("day", "group", "model", "api_key", "key_alias", "spend_micros", "prompt_tokens", "completion_tokens", "total_tokens", "requests")
    DAY_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    KEY_ALIAS_FIELD_NUMBER: _ClassVar[int]
    SPEND_MICROS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    day: str
    group: str
    model: str
    api_key: str
    key_alias: str
    spend_micros: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    requests: int
    def __init__(self, day: _Optional[str] = ..., group: _Optional[str] = ..., model: _Optional[str] = ..., api_key: _Optional[str] = ..., key_alias: _Optional[str] = ..., spend_micros: _Optional[int] = ..., prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., total_tokens: _Optional[int] = ..., requests: _Optional[int] = ...) -> None: ...

class SpendReportResponse(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[SpendReportRow]
    def __init__(self, rows: _Optional[_Iterable[_Union[SpendReportRow, _Mapping]]] = ...) -> None: ...

class ListEntitiesRequest(_message.Message):
    __slots__ = ("api_key", "kind", "page", "page_size")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    kind: str
    page: int
    page_size: int
    def __init__(self, api_key: _Optional[str] = ..., kind: _Optional[str] = ..., page: _Optional[int] = ..., page_size: _Optional[int] = ...) -> None: ...

class ListEntitiesResponse(_message.Message):
    __slots__ = ("items", "total")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[_budget_pb2.EntityInfo]
    total: int
    def __init__(self, items: _Optional[_Iterable[_Union[_budget_pb2.EntityInfo, _Mapping]]] = ..., total: _Optional[int] = ...) -> None: ...
