"""Helpers of the runtime tests: refusals that must change nothing, tasks in a given state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from orchdsl_runtime import HUMAN, Engine, Refused


def refused(engine: Engine, code: str, fn: Callable[..., object], *args: object, **kwargs: object) -> Refused:
    """Call a command that must be refused with ``code``; assert nothing changed."""
    seq = engine.store.last_seq()
    before = engine.state.dump()
    with pytest.raises(Refused) as info:
        fn(*args, **kwargs)
    assert info.value.code == code, info.value
    assert engine.store.last_seq() == seq
    assert engine.state.dump() == before
    return info.value


def new_task(engine: Engine, domain: str = "backend", tier: int = 2, **kwargs: Any) -> str:
    ins = engine.submit_instruction(HUMAN, "build the thing", tier)
    kwargs.setdefault("required_skills", ["python"] if domain == "backend" else [])
    kwargs.setdefault("estimate_hours", 4.0)
    return engine.create_task("planner", ins, kwargs.pop("kind", "tactical"), domain, "a task", **kwargs)


def in_progress(engine: Engine, agent: str = "backend-developer-1", domain: str = "backend", **kwargs: Any) -> str:
    tid = new_task(engine, domain, **kwargs)
    lead = engine.model.agents_for("@lead", domain)[0]
    engine.assign(lead, tid, agent)
    engine.move(agent, tid, "IN_PROGRESS")
    return tid
