"""Timers: the engine's pending deadlines (SLA warnings and escalations,
automatic transitions, heartbeats, acknowledgement deadlines).

In: ``push(due, key)`` and ``cancel(key)`` as state changes; out:
``pop_due(now)``, the keys whose time has come, in (due, insertion) order.
A binary heap holds (due, insertion number, key); a key's live insertion
number is kept in a dict, so cancelling or re-pushing only forgets the old
entry, which is skipped when it surfaces (lazy deletion). The heap is
rebuilt when stale entries outnumber live ones, so memory stays
proportional to the open timers.
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Iterable
from operator import itemgetter
from typing import Any

Key = tuple[Any, ...]
_Entry = tuple[float, int, Key]
_COMPACT_MIN = 64


class TimerHeap:
    """Open timers keyed by a tuple; at most one timer per key."""

    __slots__ = ("_heap", "_live", "_seq")

    def __init__(self) -> None:
        self._heap: list[_Entry] = []
        # key -> its live heap entry; an entry is live when it *is* this object
        self._live: dict[Key, _Entry] = {}
        self._seq = 0

    def push(self, due: float, key: Key) -> None:
        """Set the timer ``key`` to fire at ``due``, replacing any earlier one."""
        self._seq += 1
        entry = (due, self._seq, key)
        self._live[key] = entry
        heapq.heappush(self._heap, entry)
        if len(self._heap) > _COMPACT_MIN and len(self._heap) > 2 * len(self._live):
            self._compact()

    def push_many(self, items: Iterable[tuple[float, Key]]) -> None:
        """``push(due, key)`` for each item, in order; a large batch is added
        to the heap at once and the heap rebuilt, in linear time."""
        live, seq = self._live, self._seq
        entries: list[_Entry] = []
        for due, key in items:
            seq += 1
            entry = (due, seq, key)
            live[key] = entry
            entries.append(entry)
        self._seq = seq
        heap = self._heap
        if len(entries) > 8 and len(entries) * 8 > len(heap):
            heap.extend(entries)
            heapq.heapify(heap)
        else:
            for entry in entries:
                heapq.heappush(heap, entry)
        if len(heap) > _COMPACT_MIN and len(heap) > 2 * len(live):
            self._compact()

    def cancel(self, key: Key) -> bool:
        """Forget the timer ``key``; False if it was not open."""
        if self._live.pop(key, None) is None:
            return False
        if len(self._heap) > _COMPACT_MIN and len(self._heap) > 2 * len(self._live):
            self._compact()
        return True

    def pop_due(self, now: float) -> list[Key]:
        """Remove and return the keys due at or before ``now``, earliest
        first; equal times in the order they were pushed."""
        heap, live = self._heap, self._live
        out: list[Key] = []
        pop = heapq.heappop
        budget = max(_COMPACT_MIN, len(heap) // 64)
        while heap and heap[0][0] <= now:
            if budget == 0:
                # Many are due: one partition and one sort beat popping each.
                self._sweep_rest(now, out)
                break
            budget -= 1
            entry = pop(heap)
            key = entry[2]
            if live.get(key) is entry:
                del live[key]
                out.append(key)
        return out

    def _sweep_rest(self, now: float, out: list[Key]) -> None:
        live = self._live
        fired = [e for e in self._heap if e[0] <= now and live.get(e[2]) is e]
        # sorted by (due, insertion): two stable passes on plain numbers beat
        # one on tuples
        fired.sort(key=itemgetter(1))
        fired.sort(key=itemgetter(0))
        self._heap = [e for e in self._heap if e[0] > now]
        heapq.heapify(self._heap)
        keys = [e[2] for e in fired]
        if len(keys) == len(live):
            live.clear()
        else:
            for key in keys:
                del live[key]
        out += keys

    def next_due(self) -> float | None:
        """When the earliest open timer fires, or None."""
        heap, live = self._heap, self._live
        while heap:
            entry = heap[0]
            if live.get(entry[2]) is entry:
                return entry[0]
            heapq.heappop(heap)
        return None

    def due_of(self, key: Key) -> float | None:
        entry = self._live.get(key)
        return entry[0] if entry else None

    def items(self) -> list[tuple[float, Key]]:
        """The open timers as (due, key), in firing order."""
        return [(due, key) for due, _, key in sorted(self._live.values())]

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, key: object) -> bool:
        return key in self._live

    def _compact(self) -> None:
        self._heap = list(self._live.values())
        heapq.heapify(self._heap)


def bench_sweep(n: int = 100_000, seed: int = 0) -> float:
    """Seconds to push ``n`` timers at random times in one batch (as a flush
    after a replay does) and sweep them all with one ``pop_due`` once the
    clock has passed them; prints the time."""
    rng = random.Random(seed)
    items = [(rng.uniform(0.0, 86_400.0), ("task", i)) for i in range(n)]
    timers = TimerHeap()
    start = time.perf_counter()
    timers.push_many(items)
    fired = timers.pop_due(86_400.0)
    seconds = time.perf_counter() - start
    assert len(fired) == n
    print(f"timers: pushed and swept {n} in {seconds:.4f} s")
    return seconds
