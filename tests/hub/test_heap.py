"""The heap policy: long-lived objects are frozen as sockets arrive, unfrozen when they leave."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from liveshop.hub.heap import GROWTH, MAX_FROZEN_S, HeapPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def policy() -> Iterator[tuple[HeapPolicy, Clock]]:
    clock = Clock()
    heap = HeapPolicy(clock)
    try:
        yield heap, clock
    finally:
        heap.close()
        gc.unfreeze()


def test_growth_freezes_the_heap(policy: tuple[HeapPolicy, Clock]) -> None:
    """Below GROWTH sockets nothing is frozen; past it, the live objects are."""
    heap, _ = policy
    heap.grew(GROWTH - 1)
    assert not heap.frozen and gc.get_freeze_count() == 0
    heap.grew(GROWTH)
    assert heap.frozen and gc.get_freeze_count() > 0


def test_full_collection_skips_frozen_objects(policy: tuple[HeapPolicy, Clock]) -> None:
    """Objects alive at the freeze are not walked by a full collection (gc.get_objects(2))."""
    heap, _ = policy
    kept = [{"n": [i]} for i in range(1000)]
    heap.grew(GROWTH)
    ids = {id(o) for o in gc.get_objects(2)}
    assert not any(id(o) in ids for o in kept)


class Node:
    """An object in a reference cycle: only a collection (of unfrozen objects) frees it."""

    def __init__(self) -> None:
        self.me = self


def frozen_cycle(heap: HeapPolicy, sockets: int) -> weakref.ref[Node]:
    node = Node()
    ref = weakref.ref(node)
    heap.grew(sockets)  # the cycle is frozen while alive …
    del node  # … and becomes garbage while frozen
    gc.collect()
    assert ref() is not None  # frozen: a collection does not free it
    return ref


def test_half_the_sockets_gone_unfreezes_and_collects(policy: tuple[HeapPolicy, Clock]) -> None:
    """When the socket count halves, the heap is unfrozen and what died while frozen is freed."""
    heap, _ = policy
    ref = frozen_cycle(heap, 2 * GROWTH)
    heap.tick(GROWTH + 1)
    assert heap.frozen and ref() is not None
    heap.tick(GROWTH - 1)
    assert ref() is None
    assert not heap.frozen and gc.get_freeze_count() == 0


def test_long_frozen_heap_is_collected_then_frozen_again(policy: tuple[HeapPolicy, Clock]) -> None:
    """After MAX_FROZEN_S the heap is unfrozen and collected once, then frozen again."""
    heap, clock = policy
    ref = frozen_cycle(heap, GROWTH)
    clock.now = MAX_FROZEN_S - 1
    heap.tick(GROWTH)
    assert ref() is not None
    clock.now = MAX_FROZEN_S
    heap.tick(GROWTH)
    assert ref() is None
    assert heap.frozen and gc.get_freeze_count() > 0
