"""Keep the cyclic garbage collector's full collections short (delivery latency).

A full collection walks every tracked object. Right after start a Syncline process already
holds ~80,000 (the schema, the parsed documents, the modules and their libraries), and walking
them took 110–220 ms on the 2-core bench machine: a fan-out that met such a collection arrived
that much later for every subscriber, which alone decided the p99 of `bench/bench_realtime.py`.
Those objects live as long as the process, so after start they are moved into the collector's
permanent generation (`gc.freeze`), which no later collection walks.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_startup_heap"]


def freeze_startup_heap() -> int:
    """Collect once, then freeze every object alive now; returns how many were frozen.

    Call once, when the server has started (`syncline serve` does). Garbage made later is
    collected as usual; only what was alive at the call is never walked (nor freed, if it
    was part of a cycle) again.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
