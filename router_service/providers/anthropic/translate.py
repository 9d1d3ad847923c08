"""OpenAI <-> Anthropic Messages (Claude on Vertex), pure. Public API of the package:
request.py (to_claude_request), response.py (from_claude_response), stream.py
(ClaudeStreamTranslator), errors.py (error_from_claude)."""

from router_service.providers.anthropic.errors import error_from_claude
from router_service.providers.anthropic.request import ANTHROPIC_VERSION, JSON_TOOL_NAME, to_claude_request
from router_service.providers.anthropic.response import from_claude_response, usage_from_claude
from router_service.providers.anthropic.stream import ClaudeStreamTranslator

__all__ = [
    "ANTHROPIC_VERSION",
    "JSON_TOOL_NAME",
    "ClaudeStreamTranslator",
    "error_from_claude",
    "from_claude_response",
    "to_claude_request",
    "usage_from_claude",
]
