"""The engine: commands in, validated events out.

``Engine(model, store, clock)`` replays the store on open (from its snapshot,
when it keeps one) and runs one organisation. It is a facade over parts that share one ``Context`` (the model,
the store, the clock and the state, with the commit loop):

- ``Tasks`` (``tasks.py``): instructions and tasks: submit, create, move,
  assign, heartbeat, gate decisions, and the queries;
- ``Protocols`` (``protocols.py``): handoffs, delegation, broadcasts and
  consultations;
- ``Flows`` (``flows.py``): the stages of an instruction's flow, stage gates
  and closing;
- ``Measures`` (``measures.py``): reassignment, clarifications, defects,
  metrics and the capacity escalation of domains;
- ``Standups`` (``standups.py``): standup reports on demand and on cadence;
- ``Firing`` (``firing.py``): the clock: deadlines fired in time order;
- ``Launches`` (``launches.py``): the dispatcher's record of the agents it starts;
- ``Permissions`` (``permissions.py``) and ``Guards`` (``explain.py``): who
  may act, and why a move is refused.

Every command refreshes the state from the store (other engines and processes
may have written), validates against it, builds its events and appends them
with the last sequence number it saw; when another writer got there first it
refreshes and validates again. A refused command raises ``Refused`` and
appends nothing. One command is one append, so one transaction. Time comes
only from the clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .clock import Clock, VirtualClock, WallClock
from .context import HUMAN as HUMAN
from .context import Context
from .contract.budgets import MAX_TIME, time_problem
from .contract.events import Event
from .errors import Refused
from .explain import Guards
from .firing import Firing
from .flows import Flows
from .launches import Launches
from .measures import Measures
from .model import Model, load_model
from .permissions import Permissions
from .protocols import Protocols
from .standups import Standups
from .state import OrgState
from .store import EventStore, MemoryStore
from .tasks import Tasks
from .timefmt import iso


class Engine:
    """Runs one organisation: a loaded model, an event store and a clock."""

    def __init__(
        self,
        model: Model | str | Path | Mapping[str, Any],
        store: EventStore | None = None,
        clock: Clock | None = None,
        *,
        changes_after: int | None = None,
    ) -> None:
        model = model if isinstance(model, Model) else load_model(model)
        ctx = self.ctx = Context(model, store if store is not None else MemoryStore(),
                                 clock if clock is not None else WallClock(), changes_after)
        guards = Guards(ctx)
        perms = self.permissions = Permissions(ctx, guards)
        protocols = self.protocols = Protocols(ctx, perms)
        flows = Flows(ctx)
        measures = Measures(ctx, perms)
        standups = Standups(ctx)
        firing = self.firing = Firing(ctx, perms, protocols, measures, standups)
        tasks = self.tasks = Tasks(ctx, perms, flows, firing, protocols)
        launches = Launches(ctx)

        # instructions and tasks
        self.submit_instruction = tasks.submit_instruction
        self.create_task = tasks.create_task
        self.move = tasks.move
        self.assign = tasks.assign
        self.heartbeat = tasks.heartbeat
        self.decide_gate = tasks.decide_gate
        self.task = tasks.task
        self.inbox = tasks.inbox
        self.status = tasks.status
        # protocols
        self.handoff_spec = protocols.handoff_spec
        self.create_handoff = protocols.create_handoff
        self.tick_handoff = protocols.tick_handoff
        self.accept_handoff = protocols.accept_handoff
        self.reject_handoff = protocols.reject_handoff
        self.delegate = protocols.delegate
        self.acknowledge = protocols.acknowledge
        self.broadcast = protocols.broadcast
        self.consultation_spec = protocols.consultation_spec
        self.consult = protocols.consult
        self.answer_consultation = protocols.answer_consultation
        # flows
        self.run_stage = flows.run_stage
        self.decide_instruction_gate = flows.decide_instruction_gate
        self.close_instruction = flows.close_instruction
        self.instruction = flows.instruction
        # measures and standups
        self.reassign = measures.reassign
        self.record_clarification = measures.record_clarification
        self.record_defect = measures.record_defect
        self.actual_hours = measures.actual_hours
        self.measure = measures.measure
        self.metrics = measures.metrics
        self.capacity = measures.capacity
        self.schedule_standups = standups.schedule
        self.generate_standups = standups.generate
        # the dispatcher's records
        self.record_launch = launches.record_launch
        self.record_exit = launches.record_exit
        # the clock
        self.process_clock = firing.process
        ctx.refresh()

    # -- what the parts share ---------------------------------------------------------------

    @property
    def model(self) -> Model:
        return self.ctx.model

    @property
    def store(self) -> EventStore:
        return self.ctx.store

    @property
    def clock(self) -> Clock:
        return self.ctx.clock

    @property
    def state(self) -> OrgState:
        return self.ctx.state

    def refresh(self) -> int:
        """Apply the events other writers appended; returns how many."""
        return self.ctx.refresh()

    def events(self, after: int = 0) -> list[Event]:
        return self.ctx.store.read(after)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Record the commands of the ``with`` block in one transaction.

        Each command is validated, applied to the state and returns its events
        as usual (a refused one changes nothing), but the events are appended
        to the store only when the block ends, all of them at once. If the
        block raises, nothing of it is recorded and the state is rebuilt from
        the store; if another writer appended meanwhile, nothing is recorded
        either, and the batch is refused with ``RUN017``. A batch inside a
        batch is part of the outer one."""
        with self.ctx.batch():
            yield

    def advance_to(self, time: float) -> list[Event]:
        """Move a virtual clock forward to ``time`` (seconds since the epoch) and fire what fell due."""
        now = self.ctx.clock.now()
        if time < now:
            raise ValueError("a clock cannot go backwards")
        return self.advance(time - now)

    def advance(self, seconds: float) -> list[Event]:
        """Move a virtual clock forward and fire what fell due. The clock's new time is
        recorded with the firings; if they are not (refused, a store error), the clock
        stays where it was. A time past ``budgets.MAX_TIME`` is refused (``RUN039``)."""
        clock = self.ctx.clock
        if not isinstance(clock, VirtualClock):
            raise TypeError("advance needs a VirtualClock; call process_clock() with a wall clock")
        start = clock.now()
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError("a clock moves forward by a finite amount")
        if time_problem(start + seconds) is not None:
            raise Refused("RUN039", f"the clock cannot move past {iso(MAX_TIME)}; it is at {iso(start)}")
        clock.advance(seconds)
        try:
            return self.firing.process()
        except BaseException:
            clock.restore(start)
            raise
