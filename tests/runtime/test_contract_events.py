"""Events are a closed set: one declared shape per type, one fold handler per type,
and an unknown type is an error."""

from __future__ import annotations

import pytest
from orchdsl_runtime import Model
from orchdsl_runtime.contract.events import DATA, Event, EventType, check_event
from orchdsl_runtime.state import OrgState, UnknownEvent


def test_every_type_has_a_shape_and_a_handler(v2: Model) -> None:
    assert set(DATA) == set(EventType)
    state = OrgState(v2)
    assert set(state._apply) == set(EventType)


def test_an_unknown_event_type_is_refused_by_the_fold(v2: Model) -> None:
    state = OrgState(v2)
    with pytest.raises(UnknownEvent, match="unknown type `task_teleported`"):
        state.apply(Event(1, "task_teleported", 0.0, None, {}))
    assert state.last_seq == 0


def test_event_data_is_checked_against_its_shape() -> None:
    ok = Event(3, "stage_ran", 0.0, "router", {"instruction": "I1", "stage": "routing"})
    check_event(ok)
    with pytest.raises(ValueError, match="unknown type"):
        check_event(Event(3, "stage_skipped", 0.0, None, {}))
    with pytest.raises(ValueError, match=r"event 4 \(stage_ran\).*/stage: expected a string"):
        check_event(Event(4, "stage_ran", 0.0, None, {"instruction": "I1", "stage": 7}))
    with pytest.raises(ValueError, match="missing `visit`"):
        check_event(Event(5, "task_moved", 0.0, None, {"task": "T1", "source": "A", "target": "B"}))
