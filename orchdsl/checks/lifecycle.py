"""Checks of the task lifecycle (ORC3xx): initial and terminal states, reachability per tier, owners, SLA thresholds, escalation targets, gates that a path skips."""

from __future__ import annotations

from orchdsl.checks.graphs import Check

CHECKS: list[Check] = []
