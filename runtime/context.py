"""What the parts of the engine share: the model, the store, the clock, the state, and the commit loop.

Every command of every part (``tasks``, ``protocols``, ``flows``,
``measures``, ``standups``, ``firing``) is a ``build(now, ...)`` function that
validates against the state and returns event drafts; ``Context.commit``
refreshes the state from the store, runs the build, appends its events with
the last sequence number it saw, applies them, and retries on a conflict with
another writer. A refused command raises ``Refused`` and appends nothing.

The state starts from the store's snapshot when it keeps one (``snapshot.py``),
and ``checkpoint`` keeps a new one once enough events were folded since; with
``changes_after``, the fold notes what the events after that sequence number
touch (``state.changes``), for the projection.

``Context`` also holds the lookups that refuse (unknown agent, task,
instruction) and the message helpers every part uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from .bulk import collector_paused
from .clock import Clock, VirtualClock
from .contract.events import Draft, Event
from .errors import Conflict, Refused
from .model import AgentInfo, Model
from .records import Instruction, Task
from .snapshot import SnapshotStore
from .snapshot import load as load_snapshot
from .snapshot import save as save_snapshot
from .state import Changes, OrgState
from .store import NOW, BatchBuffer, ClockMoved, EventStore, clock_value

MAX_ATTEMPTS = 50
"""how many times a command is validated again after other writers got there first"""
BULK = 1000
"""a refresh of at least this many events runs with the garbage collector paused"""
PAGE = 20_000
"""events read from the store at a time when folding a long log"""
SNAPSHOT_EVERY = 256
"""events folded since the last snapshot before ``checkpoint`` keeps a new one"""
HUMAN = "human"
"""The one actor that is not an agent: whoever submits instructions from outside."""


def q(name: object) -> str:
    """A name as messages show it: in backticks."""
    return f"`{name}`"


def names(items: Iterable[object]) -> str:
    """Names as messages list them."""
    return ", ".join(q(i) for i in items) or "nothing"


def contention() -> Refused:
    return Refused("RUN017", f"the store changed under {MAX_ATTEMPTS} attempts in a row; try again")


class Context:
    """The engine's shared plumbing; the parts hold one and never each other's state."""

    def __init__(self, model: Model, store: EventStore, clock: Clock, changes_after: int | None = None) -> None:
        self.model = model
        self.store = store
        self.clock = clock
        self.store.claim(model.digest)
        self.snapshot_seq = 0
        """the sequence number of the latest snapshot this process loaded or kept"""
        self.changes_after = changes_after
        """note what the events after this sequence number touch (None: do not)"""
        self.state = self._start()
        self.on_reload: list[Callable[[], None]] = []
        """called after the state was rebuilt from the store (parts that cache state-bound data)"""
        self.virtual = isinstance(clock, VirtualClock)
        """a virtual clock's time is kept in the store, with the events of each command"""
        self.stored_clock: float | None = None
        """the clock's time as the store last had it"""
        self.sync_clock()

    # -- the state and the store ---------------------------------------------------------

    def _start(self) -> OrgState:
        """A state to fold the log into: the snapshot's (one no later than the events whose
        changes are noted), else an empty one."""
        state = load_snapshot(self.store, self.model, self.changes_after)
        self.snapshot_seq = state.last_seq if state is not None else 0
        state = state or OrgState(self.model)
        if self.changes_after is not None and state.last_seq == self.changes_after:
            state.changes = Changes(state.last_seq)
        return state

    def refresh(self) -> int:
        """Apply the events other writers appended; returns how many."""
        state, store = self.state, self.store
        last = store.last_seq()
        if last == state.last_seq:
            return 0
        first = state.last_seq
        with collector_paused() if last - first >= BULK else nullcontext():
            page = getattr(store, "read_page", None)
            if page is None:
                self._fold(store.read(after=first))
            else:  # a long log a page at a time: the events of one page are garbage once folded
                while events := page(state.last_seq, PAGE):
                    self._fold(events)
        return state.last_seq - first

    def _fold(self, events: list[Event]) -> None:
        state, after = self.state, self.changes_after
        if after is not None and state.changes is None and state.last_seq < after:
            # fold up to `after` without noting changes, then note the rest
            head, events = events[: after - state.last_seq], events[after - state.last_seq:]
            for e in head:
                state.apply(e)
            if state.last_seq == after:
                state.changes = Changes(after)
        for e in events:
            state.apply(e)

    def track_changes(self) -> None:
        """Note, from now on, what the events touch (after the projection caught up)."""
        self.changes_after = self.state.last_seq
        self.state.changes = Changes(self.state.last_seq)

    def append(self, events: list[Event], base: int) -> None:
        """Append ``events`` after ``base``; a virtual clock's time goes with them, in the same
        transaction. ``Conflict`` when another writer appended (or moved the clock) first."""
        if not self.virtual:
            self.store.append(events, base)
            return
        now = self.clock.now()
        try:
            self.store.append(events, base, now)
        except ClockMoved as moved:
            self.catch_up(moved.stored)
            raise
        self.stored_clock = now

    def sync_clock(self) -> None:
        """Move a virtual clock forward to the time the store keeps, when it is later."""
        if self.virtual:
            stored = clock_value(self.store.meta.get(NOW))
            if stored is not None:
                self.catch_up(stored)

    def catch_up(self, stored: float) -> None:
        self.stored_clock = stored
        clock = self.clock
        assert isinstance(clock, VirtualClock)
        if stored > clock.now():
            clock.set(stored)

    def clock_unsaved(self) -> bool:
        """Whether a virtual clock moved since the store last had its time."""
        return self.virtual and self.clock.now() != self.stored_clock

    def reload(self) -> None:
        """Rebuild the state from the store (after a failure left it ahead of the store)."""
        if self.state.changes is not None:
            self.changes_after = self.state.changes.since
        self.state = self._start()
        for hook in self.on_reload:
            hook()
        self.refresh()

    def checkpoint(self, every: int | None = None) -> bool:
        """Keep a snapshot of the state in the store when ``every`` (default ``SNAPSHOT_EVERY``)
        events or more were folded since the latest one; True when one was kept."""
        store, state = self.store, self.state
        every = SNAPSHOT_EVERY if every is None else every
        if not isinstance(store, SnapshotStore) or state.last_seq - self.snapshot_seq < every:
            return False
        state.flush()  # deadlines planned now, rather than by every process that loads the snapshot
        save_snapshot(store, state)
        self.snapshot_seq = state.last_seq
        return True

    def commit(self, build: Callable[..., list[Draft]], *args: Any) -> list[Event]:
        """Validate-build-append, retried on conflict with a fresh state:
        ``build(now, *args)`` validates against the state and returns the drafts."""
        for _ in range(MAX_ATTEMPTS):
            state, store = self.state, self.store
            if store.last_seq() != state.last_seq:
                self.refresh()
            drafts = build(self.clock.now(), *args)
            if not drafts:
                return []
            base = state.last_seq
            if len(drafts) == 1:
                t, at, actor, data = drafts[0]
                events = [Event(base + 1, t, at, actor, data)]
            else:
                events = [Event(base + i, t, at, actor, data) for i, (t, at, actor, data) in enumerate(drafts, 1)]
            try:
                self.append(events, base)
            except Conflict:
                continue
            apply = state.apply
            for e in events:
                apply(e)
            return events
        raise contention()

    def record(self, drafts: list[Draft], out: list[Event]) -> None:
        """Apply drafts to the state as events, without appending them (a clock pass appends at its end)."""
        state = self.state
        for typ, at, actor, data in drafts:
            e = Event(state.last_seq + 1, typ, at, actor, data)
            state.apply(e)
            out.append(e)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Record the commands of the ``with`` block in one transaction (see ``Engine.batch``)."""
        if isinstance(self.store, BatchBuffer):
            yield
            return
        self.refresh()
        real = self.store
        buffer = BatchBuffer(real, self.state.last_seq)
        self.store = buffer
        try:
            yield
        except BaseException:
            self.store = real
            if buffer.events:
                self.reload()
            self.sync_clock()
            raise
        self.store = real
        if not buffer.events and buffer.clock is None:
            return
        try:
            real.append(buffer.events, buffer.base, buffer.clock)
            if buffer.clock is not None:
                self.stored_clock = buffer.clock
        except BaseException as exc:
            self.reload()
            self.sync_clock()
            if isinstance(exc, Conflict):
                raise Refused(
                    "RUN017",
                    f"another writer appended during the batch; none of its {len(buffer.events)} events was "
                    "recorded, run it again",
                ) from exc
            raise

    # -- lookups that refuse -------------------------------------------------------------

    def agent(self, as_: str) -> AgentInfo:
        agent = self.model.agents.get(as_)
        if agent is None:
            raise Refused("RUN001", f"unknown agent {q(as_)}", agent=as_)
        return agent

    def task(self, task_id: str) -> Task:
        task = self.state.tasks.get(task_id)
        if task is None:
            raise Refused("RUN002", f"unknown task {q(task_id)}", task=task_id)
        return task

    def instruction(self, instruction: str) -> Instruction:
        ins = self.state.instructions.get(instruction)
        if ins is None:
            raise Refused("RUN002", f"unknown instruction {q(instruction)}")
        return ins

    def is_terminal(self, t: Task) -> bool:
        return self.model.states[t.state].terminal is not None
