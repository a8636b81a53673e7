"""A pause of the cyclic garbage collector while a refresh reads and writes."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["no_gc"]


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector. Indexing allocates millions of small tuples, none in
    reference cycles, and each allocation threshold crossed made the collector walk all of them
    again: a tenth of a first index's time. Reference counting still frees everything."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
