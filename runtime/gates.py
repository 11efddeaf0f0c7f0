"""Gate decisions: the outcome a decision picks, and the thresholds a passing one must meet.

Shared by the gates of tasks (``tasks.decide_gate``) and the stage gates of
instructions (``flows.decide_instruction_gate``): an outcome is named, or
picked by the band its summed scores fall in; a passing outcome needs every
criterion's measure at or above the gate's threshold for the tier.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from .context import names, q
from .errors import Refused
from .model import GateRec

MAX_SCORE = 1_000_000
"""the largest score a reviewer may give one category"""


def pick_outcome(g: GateRec, outcome: str | None, scores: Mapping[str, int] | None) -> tuple[str, int | None]:
    """The outcome of a gate decision: given, or picked by the total score's band; and the total."""
    gate = g.name
    chosen = outcome
    total = None
    if scores is not None:
        bad = [c for c, v in scores.items() if isinstance(v, bool) or not isinstance(v, int) or abs(v) > MAX_SCORE]
        if bad:
            raise Refused("RUN012", f"scores of {names(bad)} must be whole numbers up to {MAX_SCORE}")
    if g.bands:
        if scores is None:
            raise Refused("RUN012", f"gate {q(gate)} is decided by scores of {names(g.score_categories)}")
        missing = [c for c in g.score_categories if c not in scores]
        extra = [c for c in scores if c not in g.score_categories]
        if missing or extra:
            raise Refused("RUN012", f"scores missing {names(missing)}; unknown {names(extra)}")
        lo, hi = g.score_min, g.score_max
        bad = [c for c, v in scores.items() if (lo is not None and v < lo) or (hi is not None and v > hi)]
        if bad:
            raise Refused("RUN012", f"scores of {names(bad)} are outside {lo} to {hi}")
        total = sum(scores.values())
        band = next((o for low, high, o in g.bands if low <= total <= high), None)
        if band is None:
            raise Refused("RUN012", f"total score {total} falls in no band of gate {q(gate)}")
        if chosen is not None and chosen != band:
            raise Refused("RUN012", f"total score {total} gives outcome {q(band)}, not {q(chosen)}")
        chosen = band
    if chosen is None or chosen not in g.outcomes:
        raise Refused("RUN012", f"gate {q(gate)} has outcomes {names(g.outcomes)}; got {q(chosen)}")
    return chosen, total


def check_thresholds(g: GateRec, outcome: str, tier: int, measures: Mapping[str, float] | None) -> None:
    """A passing outcome needs each criterion's measure at or above the gate's threshold for the tier."""
    bad = [c for c, v in (measures or {}).items()
           if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)]
    if bad:
        raise Refused("RUN012", f"measures of {names(bad)} must be finite numbers")
    if g.outcomes[outcome].effect != "pass":
        return
    for criterion, by_tier in sorted(g.thresholds.items()):
        need = by_tier.get(tier)
        if need is None:
            continue
        got = (measures or {}).get(criterion)
        if got is None or got < need:
            raise Refused(
                "RUN012",
                f"outcome {q(outcome)} of gate {q(g.name)} at tier {tier} needs "
                f"{q(criterion)} >= {need:g}; got {'nothing' if got is None else f'{got:g}'}",
            )
