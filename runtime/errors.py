"""Errors of the runtime: refused commands, bad model files, store conflicts.

A refused command raises ``Refused`` with a stable ``code`` (``RUN001`` ...,
listed in ``CODES`` and in docs/runtime.md) and a ``reason`` that names what is
missing. Nothing is appended to the store when a command is refused.
"""

from __future__ import annotations

CODES: dict[str, str] = {
    "RUN001": "unknown-agent",
    "RUN002": "unknown-entity",
    "RUN003": "transition-not-declared",
    "RUN004": "actor-not-permitted",
    "RUN005": "guard-false",
    "RUN006": "requires-not-attested",
    "RUN007": "gate-decision-missing",
    "RUN008": "dependency-unmet",
    "RUN009": "over-capacity",
    "RUN010": "not-in-domain",
    "RUN011": "gate-not-open",
    "RUN012": "bad-decision",
    "RUN013": "bad-argument",
    "RUN014": "duplicate-id",
    "RUN015": "no-candidate",
    "RUN016": "guard-error",
    "RUN017": "busy",
    "RUN018": "not-assigned",
    "RUN019": "stage-gate-pending",
    "RUN020": "off-chain",
    "RUN021": "settled",
    "RUN022": "checklist-incomplete",
    "RUN023": "tasks-open",
    "RUN024": "no-handoff",
    "RUN025": "handoff-open",
    "RUN026": "waiting-for-answer",
}
"""Refusal code -> kebab-case name."""

NAMES = {name: code for code, name in CODES.items()}


class Refused(Exception):
    """A command the current state does not allow; nothing was recorded."""

    def __init__(self, code: str, reason: str, **data: object) -> None:
        if code not in CODES:
            code = NAMES[code]
        super().__init__(f"{code} {CODES[code]}: {reason}")
        self.code = code
        self.name = CODES[code]
        self.reason = reason
        self.data = data


class ModelError(Exception):
    """The compiled model file cannot be loaded (format, schema, references)."""


class StoreError(Exception):
    """The event store is unusable: another model's store, an unknown schema version."""


class Conflict(StoreError):
    """An append found a last sequence number other than the expected one."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"expected last seq {expected}, store has {actual}")
        self.expected = expected
        self.actual = actual
