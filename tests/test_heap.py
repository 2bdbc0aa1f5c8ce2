"""freeze_startup_heap: the startup heap leaves the collector's walks; later garbage does not."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from server.heap import freeze_startup_heap


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the cyclic collector frees it


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # hand the rest of the test session its objects back


def test_objects_alive_at_the_call_are_frozen_and_later_cycles_still_collected(unfrozen: None) -> None:
    kept = Node()
    assert freeze_startup_heap() > 0
    assert all(o is not kept for o in gc.get_objects())  # no collection walks it any more
    later = Node()
    ref = weakref.ref(later)
    del later
    gc.collect()
    assert ref() is None
