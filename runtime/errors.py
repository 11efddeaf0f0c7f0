"""Errors of the runtime: refused commands, a damaged run directory, bad model files, store conflicts.

A refused command raises ``Refused`` with a stable ``code`` (``RUN001`` ...) and
a ``reason`` that names what is missing (exit 1). Nothing is appended to the store
when a command is refused. A run directory that cannot be used as it is (a
damaged, missing, locked or read-only file) raises ``RunError`` with a code from
``RUN027`` on and a message saying which file and what to do (exit 2).
``REFUSALS`` is the registry of codes, each with its name and meaning
(``orchdsl explain RUN004`` prints one; docs/runtime.md lists them all);
``CODES`` and ``NAMES`` map codes to names and back.
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
    # -- the run directory (exit 2; docs/run.md#when-the-run-directory-is-damaged) --------------
    Refusal("RUN027", "store-missing",
            "the run directory's event log `events.sqlite` is missing, empty, or a folder or a link (exit 2); "
            "only `orchdsl run init` starts a log: restore it from a backup"),
    Refusal("RUN028", "store-damaged",
            "the event log `events.sqlite` is not one of orchdsl, or is damaged: truncated, overwritten, damaged "
            "pages, an event that cannot be read or replayed (exit 2); restore it from a backup"),
    Refusal("RUN029", "store-version",
            "the event log `events.sqlite` was written in another format version than this runtime's (exit 2); use the "
            "orchdsl that wrote it"),
    Refusal("RUN030", "store-locked",
            "another process held the event log's lock longer than the wait (`$ORCHDSL_LOCK_TIMEOUT`, 10 s by "
            "default; exit 2); nothing was recorded: try again"),
    Refusal("RUN031", "run-unwritable",
            "the run directory or its event log cannot be written: a read-only folder or file system, "
            "missing permissions, no space left (exit 2); nothing was recorded"),
    Refusal("RUN032", "clock-damaged",
            "the virtual clock kept in `events.sqlite` is missing, not a finite number, outside the calendar "
            "the runtime supports, or before the last event (exit 2); `orchdsl run doctor --repair` sets it "
            "from the log"),
    Refusal("RUN033", "model-damaged",
            "the compiled model `model.json` is missing, unreadable, not a compiled model, or not the model the log was recorded "
            "with (exit 2); put back the model the run was started with"),
    Refusal("RUN034", "manifest-damaged",
            "the list of projected files `.projection.json` is not in the runtime's format or lists a path "
            "the projection never writes (exit 2); `orchdsl run doctor --repair` rebuilds it"),
    Refusal("RUN035", "projection-blocked",
            "a folder, a link or a special file stands where the runtime writes a projected file or folder "
            "(`Agent_Memory` itself included; exit 2); `orchdsl run doctor --repair` moves it aside"),
    Refusal("RUN036", "projection-incomplete",
            "projected files differ from the log (a warning after an accepted command, which stays recorded; "
            "`doctor` exits 2): the next writing command or `orchdsl run doctor --repair` completes them"),
    Refusal("RUN037", "schemas-damaged",
            "the folder `schemas/` lacks a schema of a projected file, or one is not a JSON object (exit 2 from "
            "`doctor`; commands do not read them): copy `schemas/` from the compiled output"),
    Refusal("RUN038", "stray-file",
            "a file where the runtime writes its own that the log does not produce, e.g. a notice an agent "
            "wrote into an inbox (reported by `doctor`, exit 2; `--repair` moves it aside)"),
    Refusal("RUN039", "clock-overrun",
            "a clock pass would fire more events than a pass may (`firing.MAX_FIRINGS`), or move the clock "
            "past the calendar the runtime supports; advance in smaller steps"),
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


class RunError(Exception):
    """A problem of the run directory (exit 2): ``code`` is a RUN code, ``message`` says which
    file and what to do. Nothing was recorded, except where the message says otherwise."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code} {CODES[code]}: {message}")
        self.code = code
        self.name = CODES[code]
        self.message = message


class ModelError(Exception):
    """The compiled model file cannot be loaded (format, schema, references)."""


class StoreError(Exception):
    """The event store is unusable: another model's store, an unknown schema version, a file
    that is damaged, locked or cannot be written. ``code`` is the RUN code of a problem of the
    store's file (``None`` for a misuse of the store)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class Conflict(StoreError):
    """An append found a last sequence number other than the expected one."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"expected last seq {expected}, store has {actual}")
        self.expected = expected
        self.actual = actual
