"""gemgate: an OpenAI-compatible gateway for Gemini, Vertex AI Gemini and Claude on Vertex."""

__version__ = "0.1.0"
