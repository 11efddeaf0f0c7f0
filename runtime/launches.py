"""Agent launches: the dispatcher's record of the agent processes it starts for waiting items.

``launch`` records that an agent was started for an item (``work.Item.key``);
it is refused while a launch for the same item is running, so two
dispatchers never start two agents for one item, and after ``MAX_ATTEMPTS``
launches of one item (an agent that keeps failing: the item then waits for
the spec's own SLAs to escalate it). ``exit`` records how the process ended.
"""

from __future__ import annotations

from .context import Context, q
from .contract.events import Draft, Event
from .contract.names import name_problem
from .errors import Refused

MAX_ATTEMPTS = 3
"""launches of one waiting item at most"""
REASONS = ("done", "failed", "timeout", "stopped")


class Launches:
    """The launch and exit of agent processes, as events."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def record_launch(self, key: str, agent: str, kind: str, id: str, task: str | None = None) -> list[Event]:
        """Record that ``agent`` was started for the waiting item ``key`` (``kind``, ``id``)."""
        ctx = self.ctx

        def build(now: float) -> list[Draft]:
            ctx.agent(agent)
            for what, value in (("kind", kind), ("id", id)):
                problem = name_problem(value)
                if problem is not None:
                    raise Refused("RUN013", f"the item's {what} {q(value[:100])} cannot be used: {problem}")
            if not key or len(key) > 400:
                raise Refused("RUN013", "an item key is 1 to 400 characters")
            if task is not None:
                ctx.task(task)
            last = ctx.state.launches.get(key)
            if last is not None and last.running:
                raise Refused("RUN021", f"an agent ({q(last.agent)}) is already running for {q(key)}")
            attempt = 1 if last is None else last.attempt + 1
            if attempt > MAX_ATTEMPTS:
                raise Refused("RUN021", f"{q(key)} was launched {MAX_ATTEMPTS} times already")
            data = {"key": key, "agent": agent, "kind": kind, "id": id, "task": task, "attempt": attempt}
            return [("agent_launched", now, None, data)]

        return ctx.commit(build)

    def record_exit(self, key: str, code: int | None, reason: str) -> list[Event]:
        """Record how the agent started for ``key`` ended."""
        ctx = self.ctx

        def build(now: float) -> list[Draft]:
            last = ctx.state.launches.get(key)
            if last is None or not last.running:
                raise Refused("RUN021", f"no agent is running for {q(key)}")
            if reason not in REASONS:
                raise Refused("RUN013", f"an exit reason is one of {', '.join(map(q, REASONS))}")
            data = {"key": key, "agent": last.agent, "code": code, "reason": reason}
            return [("agent_exited", now, None, data)]

        return ctx.commit(build)
