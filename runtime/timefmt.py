"""Times as people and agents read them.

The engine keeps times as seconds since the epoch (floats); every time shown
to a human or an agent (messages, notices, projected files, command output) is
ISO 8601 in UTC, written by ``iso``.
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso(t: float) -> str:
    """``2025-01-06T09:00:00Z``: seconds since the epoch as ISO 8601 UTC (to the second)."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp(t: float) -> str:
    """``20250106_090000``: the time part of a file name."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y%m%d_%H%M%S")
