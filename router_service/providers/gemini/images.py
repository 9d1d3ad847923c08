"""Pure helpers for remote media: which http(s) URLs the IO layer must fetch, and the request with
those URLs replaced by data: URIs once fetched (see fetch_images.py for the IO part)."""

from __future__ import annotations

import copy
from collections.abc import Iterator


def _is_remote(url: object) -> bool:
    return isinstance(url, str) and url.lower().startswith(("http://", "https://"))


def _media_refs(req: dict) -> Iterator[tuple[str, dict, str, str]]:
    """Yield (where, holder dict, key, url) for every remote media URL in the messages."""
    for i, msg in enumerate(req.get("messages") or []):
        content = msg.get("content") if isinstance(msg, dict) else None
        if not isinstance(content, list):
            continue
        for j, part in enumerate(content):
            if not isinstance(part, dict):
                continue
            where = f"messages[{i}].content[{j}]"
            iu = part.get("image_url")
            if isinstance(iu, dict) and _is_remote(iu.get("url")):
                yield where, iu, "url", iu["url"]
            f = part.get("file")
            if isinstance(f, dict):
                for key in ("file_id", "file_data"):
                    if _is_remote(f.get(key)):
                        yield where, f, key, f[key]


def image_urls_to_fetch(req: dict) -> list[str]:
    seen: list[str] = []
    for _, _, _, url in _media_refs(req):
        if url not in seen:
            seen.append(url)
    return seen


def media_locations(req: dict) -> dict[str, tuple[str, str]]:
    """url -> (first message part naming it (for error params), "image" | "file")."""
    out: dict[str, tuple[str, str]] = {}
    for where, _, key, url in _media_refs(req):
        out.setdefault(url, (where, "image" if key == "url" else "file"))
    return out


def with_fetched_images(req: dict, fetched: dict[str, tuple[str, str]]) -> dict:
    """Copy of req with each fetched URL replaced by `data:<mime>;base64,<b64>`."""
    out = copy.deepcopy(req)
    for _, holder, key, url in list(_media_refs(out)):
        if url not in fetched:
            continue
        mime, b64 = fetched[url]
        holder.pop(key)
        holder["file_data" if key == "file_id" else key] = f"data:{mime};base64,{b64}"
    return out
