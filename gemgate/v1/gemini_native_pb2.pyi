from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GeminiGenerateRequest(_message.Message):
    __slots__ = ("model", "contents", "system_instruction", "tools", "tool_config", "safety_settings", "generation_config", "cached_content", "labels", "extra", "api")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CONTENTS_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_INSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    TOOL_CONFIG_FIELD_NUMBER: _ClassVar[int]
    SAFETY_SETTINGS_FIELD_NUMBER: _ClassVar[int]
    GENERATION_CONFIG_FIELD_NUMBER: _ClassVar[int]
    CACHED_CONTENT_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    API_FIELD_NUMBER: _ClassVar[int]
    model: str
    contents: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    system_instruction: _struct_pb2.Struct
    tools: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    tool_config: _struct_pb2.Struct
    safety_settings: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    generation_config: _struct_pb2.Struct
    cached_content: str
    labels: _containers.ScalarMap[str, str]
    extra: _struct_pb2.Struct
    api: str
    def __init__(self, model: _Optional[str] = ..., contents: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., system_instruction: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., tools: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., tool_config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., safety_settings: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., generation_config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., cached_content: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., extra: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., api: _Optional[str] = ...) -> None: ...

class GeminiGenerateResponse(_message.Message):
    __slots__ = ("body",)
    BODY_FIELD_NUMBER: _ClassVar[int]
    body: _struct_pb2.Struct
    def __init__(self, body: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class GeminiGenerateResponseBatch(_message.Message):
    __slots__ = ("responses", "route")
    class RouteEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RESPONSES_FIELD_NUMBER: _ClassVar[int]
    ROUTE_FIELD_NUMBER: _ClassVar[int]
    responses: _containers.RepeatedCompositeFieldContainer[GeminiGenerateResponse]
    route: _containers.ScalarMap[str, str]
    def __init__(self, responses: _Optional[_Iterable[_Union[GeminiGenerateResponse, _Mapping]]] = ..., route: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GeminiCountTokensRequest(_message.Message):
    __slots__ = ("model", "contents", "generate_content_request")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CONTENTS_FIELD_NUMBER: _ClassVar[int]
    GENERATE_CONTENT_REQUEST_FIELD_NUMBER: _ClassVar[int]
    model: str
    contents: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    generate_content_request: GeminiGenerateRequest
    def __init__(self, model: _Optional[str] = ..., contents: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., generate_content_request: _Optional[_Union[GeminiGenerateRequest, _Mapping]] = ...) -> None: ...

class GeminiCountTokensResponse(_message.Message):
    __slots__ = ("total_tokens", "extra")
    TOTAL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    total_tokens: int
    extra: _struct_pb2.Struct
    def __init__(self, total_tokens: _Optional[int] = ..., extra: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class GeminiEmbedRequest(_message.Message):
    __slots__ = ("model", "content", "task_type", "title", "output_dimensionality")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    TASK_TYPE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_DIMENSIONALITY_FIELD_NUMBER: _ClassVar[int]
    model: str
    content: _struct_pb2.Struct
    task_type: str
    title: str
    output_dimensionality: int
    def __init__(self, model: _Optional[str] = ..., content: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., task_type: _Optional[str] = ..., title: _Optional[str] = ..., output_dimensionality: _Optional[int] = ...) -> None: ...

class GeminiBatchEmbedRequest(_message.Message):
    __slots__ = ("model", "requests")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    model: str
    requests: _containers.RepeatedCompositeFieldContainer[GeminiEmbedRequest]
    def __init__(self, model: _Optional[str] = ..., requests: _Optional[_Iterable[_Union[GeminiEmbedRequest, _Mapping]]] = ...) -> None: ...

class GeminiEmbedding(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class GeminiEmbedResponse(_message.Message):
    __slots__ = ("embeddings",)
    EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    embeddings: _containers.RepeatedCompositeFieldContainer[GeminiEmbedding]
    def __init__(self, embeddings: _Optional[_Iterable[_Union[GeminiEmbedding, _Mapping]]] = ...) -> None: ...

class GeminiModelRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GeminiModel(_message.Message):
    __slots__ = ("name", "base_model_id", "version", "display_name", "input_token_limit", "output_token_limit", "supported_generation_methods")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BASE_MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKEN_LIMIT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKEN_LIMIT_FIELD_NUMBER: _ClassVar[int]
    SUPPORTED_GENERATION_METHODS_FIELD_NUMBER: _ClassVar[int]
    name: str
    base_model_id: str
    version: str
    display_name: str
    input_token_limit: int
    output_token_limit: int
    supported_generation_methods: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., base_model_id: _Optional[str] = ..., version: _Optional[str] = ..., display_name: _Optional[str] = ..., input_token_limit: _Optional[int] = ..., output_token_limit: _Optional[int] = ..., supported_generation_methods: _Optional[_Iterable[str]] = ...) -> None: ...

class GeminiModelList(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[GeminiModel]
    def __init__(self, models: _Optional[_Iterable[_Union[GeminiModel, _Mapping]]] = ...) -> None: ...
