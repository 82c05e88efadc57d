"""Automatic garbage collection paused while an audit runs or an adapter builds a model's IR, and put back
as it was.

A forward pass and the layers built from it allocate tens of thousands of short-lived containers
(tensor wrappers, hook bookkeeping, shapes).  With the collector running, every young collection
that happens to run mid-pass moves the ones alive at that moment into the oldest generation, and
CPython runs a full collection once that generation has grown by a quarter: in a process that holds
torch and transformers (~400,000 objects) one costs about 0.15 s, so an audit that tips it over pays
that (or leaves it to the user's next allocation, or to the interpreter's exit).  Paused, they are
freed by reference counting as they die, and whatever is left (the IR) is collected as usual after.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic collection inside the block; the collector is on again after if it was on before.

    Cycles made inside are not leaked: they wait in the youngest generation for its next collection."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
