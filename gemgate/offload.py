"""CPU work on large requests runs in a worker thread, so one big request cannot hold a process's
event loop (and every other request on it) for the length of its translation.

Python threads share the GIL, but the interpreter hands it over every few milliseconds
(sys.getswitchinterval), so the loop keeps serving small requests while a large one is converted.
Small requests stay inline (a thread hop costs more than their work).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

LARGE_REQUEST_BYTES = 256 * 1024
T = TypeVar("T")


async def cpu(size: int, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn(*args, **kwargs)` for a request of about `size` bytes: inline when small, else in a
    worker thread."""
    if size > LARGE_REQUEST_BYTES:
        return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))
    return fn(*args, **kwargs)
