"""Checks of the protocols (ORC4xx): delegation, standups, handoffs, channels, consultations."""

from __future__ import annotations

from orchdsl.checks.graphs import Check

CHECKS: list[Check] = []
