"""Checks of tiers, gates and metrics (ORC7xx)."""

from __future__ import annotations

from orchdsl.checks.graphs import Check

CHECKS: list[Check] = []
