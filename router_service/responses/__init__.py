"""Responses API on RouterService: the RPC handlers and the per-key response store."""
