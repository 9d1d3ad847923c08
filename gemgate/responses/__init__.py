"""OpenAI Responses API: pure translation (JSON <-> proto, Responses <-> the router's chat shape)."""
