"""The cyclic garbage collector, set up for a server whose heap is mostly caches.

A worker keeps tens of thousands of validated backend answers alive (candidates, scores,
catalog entries) and allocates a few thousand short-lived objects per page. With CPython's
default thresholds (700, 10, 10) a young collection runs about once per page while pages
are waiting on their backends, so the objects of pages in flight survive into the older
generations, and every few dozen pages built from scratch a full collection walks the whole
heap while no request moves. The thresholds below make full collections rare; the measured
pauses, GC time per page and tail latencies before and after are in decision 0013 and
``bench/RESULTS.md``.

A higher first threshold lets a page's temporaries die before anyone looks at them, so
little is promoted and full collections become rare; each young collection then takes a
couple of milliseconds. Everything allocated during start-up (schema, reference data,
compiled operations) is moved out of the collector's reach with ``gc.freeze()``.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

DEFAULT_THRESHOLDS = (10_000, 10, 10)
"""Young-generation allocations before a collection, then young and middle collections
before the next older one (``gc.set_threshold``)."""


def settle_after_start_up(thresholds: tuple[int, int, int] = DEFAULT_THRESHOLDS) -> None:
    """Collect once, freeze what start-up built, and apply the request-path thresholds.

    Called when start-up is done and before the first request: what is alive now lives as
    long as the process, so the collector never needs to walk it again.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)


def report_pauses(observe: Callable[[int, float], None]) -> Callable[[], None]:
    """Call ``observe(generation, seconds)`` after every collection; returns the undo.

    A full collection stops every request in the worker at once, so its pauses belong next
    to the request latencies on the dashboard: a p99 that moves with them is the collector,
    not a backend. Two clock reads per collection (tens per second at most).
    """
    started = [0.0]

    def on_collection(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            observe(int(info["generation"]), time.perf_counter() - started[0])

    gc.callbacks.append(on_collection)
    return lambda: gc.callbacks.remove(on_collection)
