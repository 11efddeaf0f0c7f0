"""Bulk steps: pausing the cyclic garbage collector while one runs.

A replay or a clock sweep makes many long-lived objects (tasks, events,
inbox messages) and frees none. CPython's collector counts them and, every
so often, rescans every tracked object of the process, several times over
one such step, to find nothing. ``collector_paused`` switches it off for the
step and back on after it; the objects are scanned at the next collection
as usual, so nothing is missed.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Disable the collector for the ``with`` block, unless it is off already."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
