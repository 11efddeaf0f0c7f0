"""The capacity ledger: the facts' examples, horizon, forecasts, bands at their
boundaries, the IC and domain limits, and the committed-hours invariant."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from orchdsl_runtime.capacity import DAY, Band, Ledger, bands_from_model
from orchdsl_runtime.contract import model as contract
from orchdsl_runtime.contract.codec import from_data

V2_CAPACITY: dict[str, Any] = {
    "hours_per_day": 8.0,
    "horizon_days": 3.0,
    "bands": [
        {"at": 0.0, "name": "healthy", "action": None},
        {"at": 0.75, "name": "caution", "action": None},
        {"at": 0.85, "name": "warning", "action": {"kind": "notify", "target": "@lead"}},
        {"at": 0.95, "name": "critical", "action": {"kind": "escalate", "target": "tech-lead"}},
    ],
    "ic_limit": 0.95,
    "ic_action": {"kind": "refuse_new_work", "target": None},
    "domain_limit": 0.9,
    "domain_period": {"kind": "time", "value": 172800.0, "text": "2d"},
    "domain_action": {"kind": "escalate", "target": "tech-lead"},
}
HOURS = {"be-1": 8.0, "be-2": 8.0, "fe-1": 8.0, "fe-2": 4.0}
DOMAINS: dict[str, str | None] = {"be-1": "backend", "be-2": "backend", "fe-1": "frontend", "fe-2": "frontend",
                                  "backend-lead": "backend", "tech-lead": None}


def v2_ledger(horizon: float | None = None) -> Ledger:
    cap = dict(V2_CAPACITY)
    if horizon is not None:
        cap["horizon_days"] = horizon
    return Ledger.from_model(from_data(contract.Capacity, cap), HOURS, DOMAINS)


def test_facts_example_twelve_hours_over_two_days() -> None:
    ledger = v2_ledger(horizon=2.0)
    ledger.commit("be-1", "T1", 5.0)
    ledger.commit("be-1", "T2", 7.0)
    assert ledger.committed("be-1") == 12.0
    assert ledger.utilisation("be-1") == 0.75
    band = ledger.band(ledger.utilisation("be-1"))
    assert band is not None and band.name == "caution"


def test_v2_horizon_is_three_eight_hour_days() -> None:
    ledger = v2_ledger()
    assert ledger.capacity_hours("be-1") == 24.0
    ledger.commit("be-1", "T1", 12.0)
    assert ledger.utilisation("be-1") == 0.5
    assert ledger.utilisation("be-2") == 0.0


def test_update_and_release() -> None:
    ledger = v2_ledger()
    ledger.commit("be-1", "T1", 10.0)
    ledger.commit("be-1", "T2", 6.0)
    ledger.update_remaining("T1", 4.0)
    assert ledger.committed("be-1") == 10.0
    assert ledger.release("T2") is True
    assert ledger.release("T2") is False
    assert ledger.committed("be-1") == 4.0
    assert [a.task for a in ledger.allocations("be-1")] == ["T1"]
    with pytest.raises(KeyError):
        ledger.update_remaining("T2", 1.0)
    with pytest.raises(ValueError):
        ledger.update_remaining("T1", -1.0)
    with pytest.raises(ValueError):
        ledger.commit("be-1", "T3", math.nan)
    with pytest.raises(KeyError):
        ledger.commit("nobody", "T3", 1.0)


def test_recommitting_a_task_moves_it() -> None:
    ledger = v2_ledger()
    ledger.commit("be-1", "T1", 10.0)
    ledger.commit("be-2", "T1", 3.0)
    assert (ledger.committed("be-1"), ledger.committed("be-2")) == (0.0, 3.0)
    assert ledger.agent_of("T1") == "be-2"
    assert ledger.agent_of("T9") is None


def test_only_work_due_within_the_horizon_counts_when_now_is_given() -> None:
    ledger = v2_ledger()
    now = 1_000_000.0
    ledger.commit("be-1", "soon", 6.0, due=now + DAY)
    ledger.commit("be-1", "edge", 3.0, due=now + 3 * DAY)
    ledger.commit("be-1", "later", 12.0, due=now + 3 * DAY + 1)
    ledger.commit("be-1", "overdue", 2.0, due=now - DAY)
    ledger.commit("be-1", "undated", 1.0)
    assert ledger.committed("be-1") == 24.0
    assert ledger.committed("be-1", now) == 12.0
    assert ledger.utilisation("be-1", now) == 0.5
    assert [a.task for a in ledger.allocations("be-1")] == ["overdue", "soon", "edge", "later", "undated"]


def test_bands_apply_from_their_value_inclusive() -> None:
    ledger = v2_ledger()
    names = {u: (b.name if (b := ledger.band(u)) else None)
             for u in (0.0, 0.5, 0.7499, 0.75, 0.8499, 0.85, 0.9499, 0.95, 1.0, 2.0)}
    assert names == {0.0: "healthy", 0.5: "healthy", 0.7499: "healthy", 0.75: "caution",
                     0.8499: "caution", 0.85: "warning", 0.9499: "warning", 0.95: "critical",
                     1.0: "critical", 2.0: "critical"}
    critical = ledger.band(0.95)
    assert critical is not None and critical.action == contract.Action(kind="escalate", target="tech-lead")
    above_zero = Ledger({"a": 8.0}, 3.0, [Band(0.5, "busy")])
    assert above_zero.band(0.2) is None
    assert Ledger({"a": 8.0}, 3.0).band(0.5) is None


def test_bands_from_model_are_sorted() -> None:
    shuffled = from_data(contract.Capacity, {"bands": list(reversed(V2_CAPACITY["bands"]))})
    assert [b.name for b in Ledger({}, 3.0, bands_from_model(shuffled)).bands] == \
        ["healthy", "caution", "warning", "critical"]
    assert bands_from_model(None) == []


def test_ic_limit_is_strictly_above() -> None:
    ledger = v2_ledger()
    ledger.commit("be-1", "T1", 22.8)  # 22.8 / 24 = 0.95
    assert not ledger.over_ic_limit("be-1")
    assert ledger.over_ic_limit("be-1", extra_hours=0.5)
    ledger.update_remaining("T1", 23.0)
    assert ledger.over_ic_limit("be-1")
    assert not Ledger({"a": 8.0}, 3.0).over_ic_limit("a", extra_hours=100)


def test_domain_utilisation() -> None:
    ledger = v2_ledger()
    ledger.commit("be-1", "T1", 24.0)
    ledger.commit("be-2", "T2", 12.0)
    assert ledger.agents_in("backend") == ["be-1", "be-2"]  # the lead has no hours
    assert ledger.domain_utilisation("backend") == 36.0 / 48.0
    ledger.commit("fe-1", "T3", 24.0)
    ledger.commit("fe-2", "T4", 12.0)  # 4 h/day: 12 h is the whole horizon
    assert ledger.domain_utilisation("frontend") == 1.0
    assert ledger.domain_over_limit("frontend")
    assert not ledger.domain_over_limit("backend")
    assert ledger.domain_utilisation("qa") == 0.0


def test_forecast_days_for_an_agent() -> None:
    ledger = v2_ledger()
    ledger.commit("be-1", "T1", 12.0)
    ledger.commit("be-1", "T2", 8.0)
    assert ledger.forecast("be-1", 4) == [1.0, 1.0, 0.5, 0.0]
    assert ledger.forecast("be-2", 2) == [0.0, 0.0]
    assert ledger.forecast("be-1", 0) == []


def test_forecast_days_for_a_domain_work_per_agent() -> None:
    ledger = v2_ledger()
    ledger.commit("fe-1", "T1", 20.0)  # 8 + 8 + 4
    ledger.commit("fe-2", "T2", 6.0)   # 4 + 2 (4 h/day)
    assert ledger.forecast("frontend", 3, now=0.0) == pytest.approx([1.0, 10 / 12, 4 / 12], abs=1e-12)
    # the idle backend IC does not take the busy one's load
    ledger.commit("be-1", "T3", 16.0)
    assert ledger.forecast("backend", 3) == [0.5, 0.5, 0.0]
    with pytest.raises(KeyError):
        ledger.forecast("nowhere", 2)


def test_copy_is_independent() -> None:
    ledger = v2_ledger()
    ledger.commit("be-1", "T1", 5.0, due=10.0)
    other = ledger.copy()
    other.commit("be-1", "T2", 5.0)
    other.update_remaining("T1", 1.0)
    assert ledger.committed("be-1") == 5.0
    assert other.committed("be-1") == 6.0
    assert other.allocations("be-1")[0].due == 10.0


# -- invariant --------------------------------------------------------------------

AGENTS = sorted(HOURS)
TASKS = [f"T{i}" for i in range(8)]
hours = st.floats(0, 40, allow_nan=False, allow_infinity=False)


class LedgerMachine(RuleBasedStateMachine):
    """Drive the ledger with commits, updates and releases; a dict of live
    tasks -> (agent, remaining) is the reference."""

    def __init__(self) -> None:
        super().__init__()
        self.ledger = v2_ledger()
        self.live: dict[str, tuple[str, float]] = {}

    @rule(agent=st.sampled_from(AGENTS), task=st.sampled_from(TASKS), h=hours,
          due=st.one_of(st.none(), st.floats(0, 10 * DAY)))
    def commit(self, agent: str, task: str, h: float, due: float | None) -> None:
        self.ledger.commit(agent, task, h, due)
        self.live[task] = (agent, h)

    @precondition(lambda self: bool(self.live))
    @rule(data=st.data(), h=hours)
    def update(self, data: st.DataObject, h: float) -> None:
        task = data.draw(st.sampled_from(sorted(self.live)))
        self.ledger.update_remaining(task, h)
        self.live[task] = (self.live[task][0], h)

    @rule(task=st.sampled_from(TASKS))
    def release(self, task: str) -> None:
        assert self.ledger.release(task) == (task in self.live)
        self.live.pop(task, None)

    @invariant()
    def committed_is_the_sum_of_live_remaining(self) -> None:
        for agent in AGENTS:
            expected = math.fsum(h for a, h in self.live.values() if a == agent)
            got = self.ledger.committed(agent)
            assert got == expected
            assert got >= 0
            assert self.ledger.utilisation(agent) == round(got / (HOURS[agent] * 3.0), 12)
        for task, (agent, _) in self.live.items():
            assert self.ledger.agent_of(task) == agent


LedgerMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestLedger = LedgerMachine.TestCase
