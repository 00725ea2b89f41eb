"""The collector is paused during a parse, and what the parse kept is not walked after it."""

from __future__ import annotations

import gc

from segmint.language.gc_pause import no_gc


def test_no_gc_resumes_the_collector_with_the_kept_objects_in_the_oldest_generation() -> None:
    assert gc.isenabled()
    with no_gc():
        assert not gc.isenabled()
        kept = [[] for _ in range(5000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    assert gc.get_count()[0] < 5000  # not left to the young generation's next collection
    young = gc.get_objects(generation=0) + gc.get_objects(generation=1)
    assert not any(item is kept[0] for item in young)


def test_no_gc_leaves_a_stopped_collector_stopped_and_frozen_objects_frozen() -> None:
    gc.freeze()
    try:
        assert gc.get_freeze_count() > 0
        with no_gc():
            pass
        assert gc.get_freeze_count() > 0  # not unfrozen (some may have been freed meanwhile)
        gc.disable()
        with no_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()
