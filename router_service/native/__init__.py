"""Client APIs in the providers' own formats (Anthropic Messages, native Gemini): the call
description the router carries (call.py), pure translators, and pass-through body preparation."""
