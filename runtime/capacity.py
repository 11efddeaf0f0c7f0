"""Capacity: the ledger of committed hours per agent and domain.

In: each IC's hours per day, the model's ``capacity`` (horizon, bands, IC
limit, domain limit) and which domain each agent belongs to; then commits,
updates of remaining estimates and releases as tasks are assigned, progress
and close. Out: committed hours, utilisation over the horizon, per-day
forecasts and the band (with its action) a utilisation falls in.

Utilisation = hours committed within the horizon / (hours per day x horizon
days): 12 h over a 2-day window of 8 h days is 0.75. Shares are rounded to
12 decimals, so 22.8 h of 24 is 0.95, not 0.9500000000000001. A band
applies from its ``at`` value inclusive: 0.75 is ``caution`` when caution is
``at 0.75``; the IC and domain limits are exceeded only strictly above.
The ledger holds no clock; callers pass ``now`` where due dates matter.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .contract.model import Action, Capacity

DAY = 86_400.0
_DECIMALS = 12


@dataclass(frozen=True)
class Band:
    """A capacity band: from utilisation ``at`` (inclusive) up to the next band."""

    at: float
    name: str
    action: Action | None = None


@dataclass
class Allocation:
    """One task's claim on its assignee's time."""

    task: str
    agent: str
    remaining: float
    due: float | None
    seq: int = field(compare=False)


def bands_from_model(capacity: Capacity | None) -> list[Band]:
    """The bands of the compiled model's ``capacity`` section."""
    if capacity is None:
        return []
    return [Band(b.at, b.name, b.action) for b in capacity.bands]


class Ledger:
    """Committed hours per agent, kept per task so every total is a fresh sum."""

    def __init__(
        self,
        hours_per_day_by_agent: Mapping[str, float],
        horizon_days: float,
        bands: Iterable[Band] = (),
        ic_limit: float | None = None,
        domain_of: Mapping[str, str | None] | None = None,
        *,
        domain_limit: float | None = None,
    ) -> None:
        if horizon_days <= 0:
            raise ValueError("the horizon must be positive")
        self.hours_per_day = dict(hours_per_day_by_agent)
        self.horizon_days = float(horizon_days)
        self.bands = sorted(bands, key=lambda b: b.at)
        self.ic_limit = ic_limit
        self.domain_limit = domain_limit
        self.domain_of = dict(domain_of or {})
        self._tasks: dict[str, Allocation] = {}
        self._by_agent: dict[str, dict[str, Allocation]] = {}
        self._seq = 0

    @classmethod
    def from_model(
        cls,
        capacity: Capacity | None,
        hours_per_day_by_agent: Mapping[str, float],
        domain_of: Mapping[str, str | None],
    ) -> Ledger:
        """A ledger configured by the compiled model's ``capacity`` section."""
        cap = capacity or Capacity()
        return cls(
            hours_per_day_by_agent,
            cap.horizon_days,
            bands_from_model(cap),
            cap.ic_limit,
            domain_of,
            domain_limit=cap.domain_limit,
        )

    def copy(self) -> Ledger:
        other = Ledger(self.hours_per_day, self.horizon_days, self.bands, self.ic_limit, self.domain_of,
                       domain_limit=self.domain_limit)
        for a in sorted(self._tasks.values(), key=lambda a: a.seq):
            other.commit(a.agent, a.task, a.remaining, a.due)
        return other

    # -- changes ----------------------------------------------------------------

    def commit(self, agent: str, task: str, hours: float, due: float | None = None) -> None:
        """Commit ``hours`` of ``agent``'s time to ``task``; a task committed
        before (to anyone) moves to this agent with these hours."""
        _check_hours(hours)
        if agent not in self.hours_per_day:
            raise KeyError(agent)
        self.release(task)
        self._seq += 1
        alloc = Allocation(task, agent, float(hours), due, self._seq)
        self._tasks[task] = alloc
        self._by_agent.setdefault(agent, {})[task] = alloc

    def update_remaining(self, task: str, hours: float) -> None:
        _check_hours(hours)
        self._tasks[task].remaining = float(hours)

    def release(self, task: str) -> bool:
        """Forget a task (closed, cancelled or reassigned); False if unknown."""
        alloc = self._tasks.pop(task, None)
        if alloc is None:
            return False
        del self._by_agent[alloc.agent][task]
        return True

    # -- queries ------------------------------------------------------------------

    def allocations(self, agent: str) -> list[Allocation]:
        """The agent's tasks in work order: earliest due first (no due last),
        then in order of commitment."""
        return sorted(self._by_agent.get(agent, {}).values(), key=_work_order)

    def agent_of(self, task: str) -> str | None:
        alloc = self._tasks.get(task)
        return alloc.agent if alloc else None

    def agents_in(self, domain: str) -> list[str]:
        """The agents with capacity (hours per day) in a domain."""
        return sorted(a for a in self.hours_per_day if self.domain_of.get(a) == domain)

    def committed(self, agent: str, now: float | None = None) -> float:
        """Remaining hours of the agent's tasks; with ``now``, only those due
        within the horizon (no due date counts as within)."""
        allocs = self._by_agent.get(agent, {}).values()
        if now is None:
            return math.fsum(a.remaining for a in allocs)
        end = now + self.horizon_days * DAY
        return math.fsum(a.remaining for a in allocs if a.due is None or a.due <= end)

    def capacity_hours(self, agent: str) -> float:
        """Hours the agent can work within the horizon."""
        return self.hours_per_day[agent] * self.horizon_days

    def utilisation(self, agent: str, now: float | None = None) -> float:
        return _ratio(self.committed(agent, now), self.capacity_hours(agent))

    def domain_utilisation(self, domain: str, now: float | None = None) -> float:
        """Committed over available hours of the domain's agents; 0 without agents."""
        agents = self.agents_in(domain)
        total = math.fsum(self.capacity_hours(a) for a in agents)
        if total == 0:
            return 0.0
        return _ratio(math.fsum(self.committed(a, now) for a in agents), total)

    def forecast(self, key: str, days: int, now: float | None = None) -> list[float]:
        """Per-day utilisation of an agent (or a domain, all its agents) for
        the next ``days`` days, each agent working its tasks in order at its
        hours per day: a day is full until the work runs out. Day 0 starts
        at ``now``; the forecast itself needs no clock, since the ledger
        holds remaining hours and not calendars."""
        agents = [key] if key in self.hours_per_day else self.agents_in(key)
        if not agents and key not in self.domain_of.values():
            raise KeyError(key)
        worked = [0.0] * days
        available = 0.0
        for agent in agents:
            per_day = self.hours_per_day[agent]
            available += per_day
            left = self.committed(agent)
            for d in range(days):
                today = min(per_day, left)
                worked[d] += today
                left -= today
        if available == 0:
            return [0.0] * days
        return [_ratio(w, available) for w in worked]

    def band(self, utilisation: float) -> Band | None:
        """The band a utilisation falls in: the last whose ``at`` it reaches."""
        found = None
        utilisation = round(utilisation, _DECIMALS)
        for b in self.bands:
            if utilisation >= b.at:
                found = b
            else:
                break
        return found

    def over_ic_limit(self, agent: str, extra_hours: float = 0.0, now: float | None = None) -> bool:
        """Whether the agent is above the IC limit (with ``extra_hours`` more)."""
        if self.ic_limit is None:
            return False
        return _ratio(self.committed(agent, now) + extra_hours, self.capacity_hours(agent)) > self.ic_limit

    def domain_over_limit(self, domain: str, now: float | None = None) -> bool:
        return self.domain_limit is not None and self.domain_utilisation(domain, now) > self.domain_limit


def _ratio(part: float, whole: float) -> float:
    # Rounded so that a share that is 0.95 on paper (22.8 h of 24) compares
    # as 0.95 with the limits and band boundaries.
    return round(part / whole, _DECIMALS)


def _check_hours(hours: float) -> None:
    if not math.isfinite(hours) or hours < 0:
        raise ValueError(f"hours must be a finite number >= 0, not {hours!r}")


def _work_order(a: Allocation) -> tuple[float, int]:
    return (a.due if a.due is not None else math.inf, a.seq)
