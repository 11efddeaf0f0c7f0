"""Errors of the runtime: refused commands, bad model files, store conflicts.

A refused command raises ``Refused`` with a stable ``code`` (``RUN001`` ...) and
a ``reason`` that names what is missing. Nothing is appended to the store when a
command is refused. ``REFUSALS`` is the registry of codes, each with its name
and meaning (``orchdsl explain RUN004`` prints one; docs/runtime.md lists them
all); ``CODES`` and ``NAMES`` map codes to names and back.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refusal code: its stable number, its kebab-case name and what it means."""

    code: str
    name: str
    meaning: str


REFUSALS: tuple[Refusal, ...] = (
    Refusal("RUN001", "unknown-agent",
            "the acting (or named) agent is not an agent of the model"),
    Refusal("RUN002", "unknown-entity",
            "an unknown task, instruction, domain or gate"),
    Refusal("RUN003", "transition-not-declared",
            "no transition from the task's state to the target at its tier (a terminal state has none); the "
            "reason lists the possible targets"),
    Refusal("RUN004", "actor-not-permitted",
            "the agent is not among the transition's actors or the gate's reviewer (the reason names who is, "
            "resolved for the task); the assignee is never `@peer`"),
    Refusal("RUN005", "guard-false",
            "the transition's guard is false; the reason names the false parts and the values read"),
    Refusal("RUN006", "requires-not-attested",
            "the target state requires items the move did not attest"),
    Refusal("RUN007", "gate-decision-missing",
            "a gate guarding the transition has no decision in this visit, or decided an outcome that does not "
            "pass"),
    Refusal("RUN008", "dependency-unmet",
            "the guard is false only because a dependency is not completed; the reason lists them with their "
            "states"),
    Refusal("RUN009", "over-capacity",
            "the agent is above the IC capacity limit (explicit assignment), or the guard is false only "
            "because the assignee has no capacity"),
    Refusal("RUN010", "not-in-domain",
            "an explicit assignee is not a member of the task's domain"),
    Refusal("RUN011", "gate-not-open",
            "the gate guards no transition out of the task's state at its tier"),
    Refusal("RUN012", "bad-decision",
            "an undeclared outcome, missing or out-of-range scores, a total in no band or contradicting the "
            "outcome, a threshold not met"),
    Refusal("RUN013", "bad-argument",
            "an invalid kind, complexity, priority, skill, tier, estimate or token count; a finished task; a "
            "reassignment"),
    Refusal("RUN014", "duplicate-id",
            "an instruction or task id that exists"),
    Refusal("RUN015", "no-candidate",
            "nobody qualifies for automatic assignment and the model has no fallback"),
    Refusal("RUN016", "guard-error",
            "the guard cannot be evaluated (a variable the runtime does not provide)"),
    Refusal("RUN017", "busy",
            "the store changed under the command too many times in a row, or another writer appended during a "
            "batch (nothing of the batch was recorded)"),
    Refusal("RUN018", "not-assigned",
            "a move into a state owned by `@assignee` while the task has no assignee (use `assign`); a "
            "reassignment of an unassigned task"),
    Refusal("RUN019", "stage-gate-pending",
            "a gate guarding a stage of the instruction's flow (or its closing) has no passing decision"),
    Refusal("RUN020", "off-chain",
            "a delegation that is not one hop down the declared chain"),
    Refusal("RUN021", "settled",
            "the thing is done already: a closed instruction, a decided handoff, an acknowledged delegation, a "
            "ticked item, a stage that ran, a scheduled standup"),
    Refusal("RUN022", "checklist-incomplete",
            "a handoff accepted with checklist items not ticked"),
    Refusal("RUN023", "tasks-open",
            "an instruction closed while some of its tasks are not terminal"),
    Refusal("RUN024", "no-handoff",
            "no handoff declared between the domains, or the task is not in the state a handoff starts in"),
    Refusal("RUN025", "handoff-open",
            "a plain `move` would make the `on accept` or `on reject` transition of the task's handoff (open, or "
            "declared for a task handed to another domain); use `handoff create`, then `accept_handoff` / "
            "`reject_handoff` (`orchdsl run handoff accept|reject`)"),
    Refusal("RUN026", "waiting-for-answer",
            "the asker of an open blocking consultation about this task or instruction waits for its answer "
            "(or its timeout) before moving the task or creating tasks under the instruction"),
)
"""Every refusal code, in order; the table in docs/runtime.md is this list (a test keeps it so)."""

BY_CODE: dict[str, Refusal] = {r.code: r for r in REFUSALS}

CODES: dict[str, str] = {r.code: r.name for r in REFUSALS}
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
