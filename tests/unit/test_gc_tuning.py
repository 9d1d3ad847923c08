"""gemgate/gc_tuning.py: after startup the surviving objects are frozen out of the collector's
generations (unless GEMGATE_GC_FREEZE=0)."""

from __future__ import annotations

import gc

from gemgate import gc_tuning


def test_settle_freezes_what_startup_left(monkeypatch):
    monkeypatch.delenv(gc_tuning.ENV, raising=False)
    try:
        gc.unfreeze()
        gc_tuning.settle()
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()


def test_switch_off(monkeypatch):
    monkeypatch.setenv(gc_tuning.ENV, "0")
    gc.unfreeze()
    gc_tuning.settle()
    assert gc.get_freeze_count() == 0
