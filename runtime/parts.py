"""What the command mixins (protocols, flows, measures) use of the engine.

``Engine`` inherits the mixins; this base only declares, for the type
checker, the engine's plumbing the mixins call: the model, the state, the
clock, ``_commit`` and the lookups that raise ``Refused``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from .assignment import Scored
    from .clock import Clock
    from .contract.events import Draft, Event
    from .model import ActorCheck, AgentInfo, GateRec, Model, TransitionRec
    from .records import Task
    from .state import OrgState


HUMAN = "human"
"""The one actor that is not an agent: whoever submits instructions from outside."""


class EngineParts:
    if TYPE_CHECKING:
        model: Model
        state: OrgState
        clock: Clock

        def refresh(self) -> int: ...
        def _commit(self, build: Callable[..., list[Draft]], *args: Any) -> list[Event]: ...
        def _agent(self, as_: str) -> AgentInfo: ...
        def _task(self, task_id: str) -> Task: ...
        def _check_move(
            self, agent: AgentInfo, t: Task, target: str, attest: Sequence[str], now: float
        ) -> TransitionRec: ...
        def _permitted(self, check: ActorCheck, agent: AgentInfo, t: Task) -> bool: ...
        def _agents_of(self, actor: str, t: Task) -> list[str]: ...
        def _check_not_waiting(self, as_: str, subject: str) -> None: ...
        def _score(self, t: Task, now: float) -> list[Scored]: ...
        def _pick_outcome(
            self, g: GateRec, outcome: str | None, scores: Mapping[str, int] | None
        ) -> tuple[str, int | None]: ...
