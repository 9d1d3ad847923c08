"""The garbage collector once a service has started.

A service imports a great many modules (gRPC, protobuf, FastAPI/pydantic in the facade) whose
objects live as long as the process. Left in the collector's generations, every full collection
walks them all again. `settle()` collects what startup left behind, then freezes the survivors
(`gc.freeze()`): later collections look only at what requests allocate. GEMGATE_GC_FREEZE=0 leaves
the collector as Python sets it up.
"""

from __future__ import annotations

import gc
import os

ENV = "GEMGATE_GC_FREEZE"


def settle() -> None:
    if os.environ.get(ENV, "1") == "0":
        return
    gc.collect()
    gc.freeze()
