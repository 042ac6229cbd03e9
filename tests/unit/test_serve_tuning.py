"""`paygate serve` tunes the garbage collector before it serves (gateway/cli.py)."""

from __future__ import annotations

import gc

from gateway.cli import _tune_garbage_collector


def test_start_up_objects_are_frozen_and_young_collections_are_rarer() -> None:
    before = gc.get_threshold()
    try:
        _tune_garbage_collector()
        assert gc.get_freeze_count() > 1000  # the imported modules' objects, at least
        assert gc.get_threshold() == (10_000, before[1], before[2])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
