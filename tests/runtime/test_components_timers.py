"""The timer heap: order, replacement, lazy cancellation, against a sorted-list model."""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from orchdsl_runtime.timers import TimerHeap, bench_sweep


def test_pop_due_in_time_then_insertion_order() -> None:
    timers = TimerHeap()
    timers.push(30.0, ("c",))
    timers.push(10.0, ("a",))
    timers.push(20.0, ("b1",))
    timers.push(20.0, ("b2",))
    timers.push(50.0, ("late",))
    assert len(timers) == 5
    assert timers.next_due() == 10.0
    assert timers.pop_due(5.0) == []
    assert timers.pop_due(30.0) == [("a",), ("b1",), ("b2",), ("c",)]  # due == now fires
    assert timers.pop_due(30.0) == []
    assert len(timers) == 1 and ("late",) in timers


def test_repushing_replaces_and_counts_as_a_new_insertion() -> None:
    timers = TimerHeap()
    timers.push(10.0, ("x",))
    timers.push(10.0, ("y",))
    timers.push(10.0, ("x",))  # same time, now after y
    assert len(timers) == 2
    assert timers.pop_due(10.0) == [("y",), ("x",)]
    timers.push(5.0, ("z",))
    timers.push(100.0, ("z",))  # postponed
    assert timers.pop_due(50.0) == []
    assert timers.due_of(("z",)) == 100.0
    assert timers.pop_due(100.0) == [("z",)]


def test_cancel_is_lazy_and_exact() -> None:
    timers = TimerHeap()
    timers.push(1.0, ("a",))
    timers.push(2.0, ("b",))
    assert timers.cancel(("a",)) is True
    assert timers.cancel(("a",)) is False
    assert ("a",) not in timers and timers.due_of(("a",)) is None
    assert timers.next_due() == 2.0
    assert timers.items() == [(2.0, ("b",))]
    timers.push(0.5, ("a",))
    assert timers.pop_due(10.0) == [("a",), ("b",)]
    assert timers.next_due() is None and len(timers) == 0


def test_memory_stays_proportional_to_open_timers() -> None:
    timers = TimerHeap()
    for i in range(10_000):
        timers.push(float(i), ("k", i % 10))
    assert len(timers) == 10
    assert len(timers._heap) <= 2 * 10 + 64 + 1
    for i in range(10):
        timers.cancel(("k", i))
    assert len(timers._heap) <= 64 + 1


def test_large_sweep_order() -> None:
    timers = TimerHeap()
    n = 20_000
    for i in range(n):
        timers.push(float((i * 7919) % 1000), ("t", i))
    for i in range(0, n, 3):
        timers.cancel(("t", i))
    fired = timers.pop_due(499.0)
    expected = sorted(((i * 7919) % 1000, i) for i in range(n) if i % 3 and (i * 7919) % 1000 <= 499)
    assert fired == [("t", i) for _, i in expected]
    rest = timers.pop_due(1e9)
    assert len(fired) + len(rest) == len([i for i in range(n) if i % 3])
    assert len(timers) == 0


def test_bench_sweep_runs() -> None:
    assert bench_sweep(10_000) > 0


KEYS = [("task", i) for i in range(6)]
times = st.integers(0, 20).map(float)


class TimerMachine(RuleBasedStateMachine):
    """The reference: a list of (due, insertion, key), at most one per key."""

    def __init__(self) -> None:
        super().__init__()
        self.timers = TimerHeap()
        self.model: list[tuple[float, int, Any]] = []
        self.count = 0
        self.now = 0.0

    @rule(key=st.sampled_from(KEYS), due=times)
    def push(self, key: Any, due: float) -> None:
        self.timers.push(due, key)
        self.count += 1
        self.model = [e for e in self.model if e[2] != key] + [(due, self.count, key)]

    @rule(items=st.lists(st.tuples(times, st.sampled_from(KEYS)), max_size=20))
    def push_many(self, items: list[tuple[float, Any]]) -> None:
        # more than 8 at once takes the heapify path
        self.timers.push_many(items)
        for due, key in items:
            self.count += 1
            self.model = [e for e in self.model if e[2] != key] + [(due, self.count, key)]

    @rule(key=st.sampled_from(KEYS))
    def cancel(self, key: Any) -> None:
        expected = any(e[2] == key for e in self.model)
        assert self.timers.cancel(key) == expected
        self.model = [e for e in self.model if e[2] != key]

    @rule(step=st.integers(0, 8).map(float))
    def advance(self, step: float) -> None:
        self.now += step
        due = sorted(e for e in self.model if e[0] <= self.now)
        self.model = [e for e in self.model if e[0] > self.now]
        assert self.timers.pop_due(self.now) == [e[2] for e in due]

    @invariant()
    def agrees(self) -> None:
        assert len(self.timers) == len(self.model)
        ordered = sorted(self.model)
        assert self.timers.items() == [(e[0], e[2]) for e in ordered]
        assert self.timers.next_due() == (ordered[0][0] if ordered else None)


TimerMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestTimers = TimerMachine.TestCase
