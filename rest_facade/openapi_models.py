"""Pydantic models that DESCRIBE the facade's JSON bodies in /openapi.json (OpenAPI tools, client
generators and schemathesis use them). They mirror what the code accepts (gemgate.openai_proto and
the management models are the validators; a test fuzzes the running facade from this document).

Nothing imports this module until /openapi.json is first asked for (`rest_facade/openapi_doc.py`
names these models by name and loads them then): the facade never validates with them, so they cost
no memory in a gateway that is not asked for its document.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gemgate.openai_proto import INT32_MAX, INT64_MAX, INT64_MIN, ROLES


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


# ------------------------------------------------------------------ chat completions (request)

class ImageUrl(_Closed):
    url: str
    detail: str | None = None


class InputAudio(_Closed):
    data: str
    format: str


class FileInput(_Closed):
    file_data: str | None = None
    file_id: str | None = None
    filename: str | None = None
    format: str | None = None


class ContentPart(_Closed):
    type: Literal["text", "image_url", "input_audio", "file"]
    text: str | None = None
    image_url: ImageUrl | str | None = None
    input_audio: InputAudio | None = None
    file: FileInput | None = None


class FunctionCall(_Closed):
    name: str
    arguments: str = ""


class ToolCall(_Closed):
    id: str
    type: str = "function"
    function: FunctionCall


class ThinkingBlock(_Closed):
    type: Literal["thinking", "redacted_thinking"]
    thinking: str | None = None
    signature: str | None = None
    data: str | None = None


class ChatMessage(_Open):
    role: Literal[ROLES]  # type: ignore[valid-type]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_call_id: str | None = Field(default=None, description="required for role tool")
    tool_calls: list[ToolCall] | None = None
    reasoning_content: str | None = None
    thinking_blocks: list[ThinkingBlock] | None = None


class FunctionDefinition(_Closed):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")
    description: str | None = None
    parameters: dict[str, Any] | None = Field(default=None, description="JSON Schema; key order is kept")
    strict: bool | None = None


class Tool(_Closed):
    type: Literal["function"] = "function"
    function: FunctionDefinition


class ToolChoiceFunction(_Closed):
    type: Literal["function"] = "function"
    function: dict[str, str]


class JsonSchemaFormat(_Closed):
    name: str = ""
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Closed):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class StreamOptions(_Open):
    include_usage: bool | None = None


class ChatCompletionRequest(_Open):
    """OpenAI chat completion request. Unknown top-level keys are provider parameters (400 naming
    them unless drop_params) or gateway switches (safety_settings, fallbacks, num_retries, ...)."""
    model: str = Field(min_length=1, examples=["gemini-flash"])
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=INT32_MAX,
                                   description="clamped to the model's output limit when known")
    max_completion_tokens: int | None = Field(default=None, ge=1, le=INT32_MAX)
    n: int | None = Field(default=None, ge=1, le=128)
    seed: int | None = Field(default=None, ge=INT64_MIN, le=INT64_MAX)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    stop: str | list[str] | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | ToolChoiceFunction | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high"] | None = None
    user: str | None = None
    metadata: dict[str, Any] | None = None
    drop_params: bool | None = None


# ------------------------------------------------------------------ chat completions (response)

class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: dict[str, int] | None = None
    completion_tokens_details: dict[str, int] | None = None


class AssistantMessage(BaseModel):
    role: str = "assistant"
    content: str | None
    reasoning_content: str | None = None
    thinking_blocks: list[ThinkingBlock] | None = None
    tool_calls: list[ToolCall] | None = None


class Choice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: str | None
    logprobs: dict[str, Any] | None = None


class ChatCompletion(BaseModel):
    """Unary answer; with stream: true the body is text/event-stream of chat.completion.chunk
    objects ending with `data: [DONE]`."""
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage | None = None
    system_fingerprint: str | None = None


# ------------------------------------------------------------------ embeddings, models, errors

class EmbeddingsRequest(_Open):
    model: str = Field(min_length=1, examples=["embed"])
    input: str | list[str] = Field(description="non-empty text(s); token arrays are not supported")
    dimensions: int | None = Field(default=None, ge=1, le=65536)
    encoding_format: Literal["float", "base64"] | None = None
    user: str | None = None


class EmbeddingItem(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingsResponse(BaseModel):
    object: Literal["list"] = "list"
    model: str
    data: list[EmbeddingItem]
    usage: dict[str, int]


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(BaseModel):
    """Every failure: the OpenAI error envelope (4xx for client mistakes, never a trace)."""
    error: ErrorBody
