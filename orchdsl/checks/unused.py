"""Warnings for what is declared and never used (ORC8xx)."""

from __future__ import annotations

from orchdsl.checks.graphs import Check

CHECKS: list[Check] = []
