"""Keep the garbage collector off the objects a verification outlives.

The modules, the app and the plan exist before the run and outlive it, yet
every full collection during the run goes over them again: about 0.1 s per
1,000 interactions on the benchmark's app, and as much again in the final
collection when a ``--jobs`` worker exits (``benchmarks/fast.py``, measured
with :data:`gc.callbacks`). :func:`gc.freeze` moves them out of the
collector's sight; objects made during the run are collected as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def existing_objects_frozen() -> Iterator[None]:
    """Freeze every object that exists now, and thaw them on the way out.

    A process that froze objects of its own (a pre-forking server, say) is
    left as it is: thawing would undo its freeze too.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        # Back in the oldest generation: what became garbage meanwhile is
        # collected as usual from here on.
        gc.unfreeze()
