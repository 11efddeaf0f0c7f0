"""Checks of assignment, capacity and skills (ORC5xx, ORC6xx)."""

from __future__ import annotations

from orchdsl.checks.graphs import Check

CHECKS: list[Check] = []
