"""The registry of diagnostic codes: one place, stable numbers.

Codes are grouped by hundreds: 0xx input and syntax, 1xx names, 2xx hierarchy,
3xx lifecycle, 4xx protocols, 5xx assignment and capacity, 6xx skills and
domains, 7xx tiers, gates and metrics, 8xx declared but unused, 9xx values.
A code, once published, keeps its meaning; retired codes are not reused.
Every code has a page ``docs/codes/ORCnnn.md`` with a failing example.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    name: str
    severity: Severity
    summary: str


E = Severity.ERROR
W = Severity.WARNING

_ALL = [
    # 0xx: input and syntax
    Code("ORC001", "syntax-error", E, "the text does not follow the grammar"),
    Code("ORC002", "invalid-character", E, "a character that cannot start any token"),
    Code("ORC003", "include-not-found", E, "an included file does not exist or cannot be read"),
    Code("ORC004", "include-cycle", E, "files include each other in a cycle"),
    Code("ORC005", "missing-org", E, "no `org` declaration in the files checked"),
    Code("ORC006", "duplicate-org", E, "more than one `org` declaration"),
    Code("ORC007", "duplicate-clause", E, "a clause that may appear once appears twice"),
    Code("ORC008", "missing-clause", E, "a required clause is missing"),
    Code("ORC009", "include-outside-project", E, "an include names a file outside the folder of the top file"),
    Code("ORC010", "not-a-file", E, "a spec path names a folder, a FIFO or a device, not a regular file"),
    Code("ORC011", "input-too-large", E, "a spec file, or all files of an organisation, exceed the size limit"),
    Code("ORC012", "include-too-deep", E, "includes nest deeper than the limit"),
    Code("ORC013", "control-character", E, "a string holds a control character"),
    # 1xx: names
    Code("ORC101", "duplicate-name", E, "a name is declared twice"),
    Code("ORC102", "unknown-role", E, "a reference to a role that is not declared"),
    Code("ORC103", "unknown-state", E, "a reference to a lifecycle state that is not declared"),
    Code("ORC104", "unknown-skill", E, "a reference to a skill that is not in the taxonomy"),
    Code("ORC105", "unknown-skill-level", E, "a skill level that is not on the level scale"),
    Code("ORC106", "unknown-domain", E, "a reference to a domain that is not declared"),
    Code("ORC107", "unknown-gate", E, "a reference to a gate that is not declared"),
    Code("ORC108", "unknown-experience", E, "an experience level that is not declared"),
    Code("ORC109", "unknown-relation", E, "an `@relation` that does not exist"),
    Code("ORC110", "relation-out-of-context", E, "a relation used where it has no meaning"),
    Code("ORC111", "unknown-stage", E, "a flow stage or gated stage that does not exist"),
    Code("ORC112", "unknown-measure", E, "a metric measure that does not exist"),
    Code("ORC113", "unknown-outcome", E, "a score band or a notice names an outcome the gate does not declare"),
    Code("ORC114", "unsafe-name", E, "a name that becomes a file or folder name breaks the safe-name rule"),
    Code("ORC115", "unknown-escalation", E, "a state names an escalation policy that is not declared"),
    Code("ORC116", "unknown-label", E, "a gate applies to a task label the spec does not declare"),
    Code("ORC117", "unknown-layer", E, "a role's layer is not one of the layers"),
    # 2xx: hierarchy
    Code("ORC201", "hierarchy-cycle", E, "roles report to each other in a cycle"),
    Code("ORC202", "no-root", E, "no role is at the top of the hierarchy"),
    Code("ORC203", "several-roots", E, "more than one role reports to nobody"),
    Code("ORC204", "lead-outside-chain", E, "a domain lead does not reach the top of the hierarchy"),
    Code("ORC205", "member-not-under-lead", E, "a domain member does not report to the domain's lead"),
    Code("ORC206", "member-of-several-domains", E, "a role is a member of more than one domain"),
    Code("ORC207", "lead-is-member", E, "a domain's lead is also listed as a member"),
    Code("ORC208", "top-reports-to", E, "a role declared at the top of the hierarchy reports to another role"),
    Code("ORC209", "layer-against-hierarchy", E, "a role's layer disagrees with where it sits in the hierarchy"),
    # 3xx: lifecycle
    Code("ORC301", "no-initial-state", E, "the lifecycle has no initial state"),
    Code("ORC302", "several-initial-states", E, "the lifecycle has more than one initial state"),
    Code("ORC303", "transition-from-terminal", E, "a terminal state has an outgoing transition"),
    Code("ORC304", "unreachable-state", E, "a state cannot be reached from the initial state"),
    Code("ORC305", "dead-end-state", E, "no terminal state can be reached from a state"),
    Code("ORC306", "missing-owner", E, "a non-terminal state has no owner"),
    Code("ORC307", "thresholds-out-of-order", E, "SLA target, warning and escalation are not increasing"),
    Code("ORC308", "escalation-not-above-owner", E, "an escalation goes to a role that is not above the owner"),
    Code("ORC309", "gate-skipped", E, "a path to completion avoids a gate that applies"),
    Code("ORC310", "guard-type-error", E, "a guard expression is ill-typed"),
    Code("ORC311", "unknown-variable", E, "a guard names a variable that does not exist"),
    Code("ORC312", "duplicate-transition", E, "the same transition is declared twice"),
    Code("ORC313", "no-terminal-state", E, "the lifecycle has no terminal state"),
    Code("ORC314", "sla-tier-gap", E, "a per-tier SLA does not cover every tier where the state applies"),
    Code("ORC315", "threshold-never-reached", W, "an automatic transition always leaves the state before a threshold"),
    Code("ORC316", "budget-kind-mismatch", E, "time and token budgets are mixed in one state's SLA"),
    Code("ORC317", "terminal-with-sla", W, "a terminal state declares an SLA, owner or heartbeat"),
    Code("ORC318", "tier-not-declared", E, "a tier range names a tier that is not declared"),
    Code("ORC319", "multiple-without-target", E, "a threshold is a multiple but the state has no SLA target"),
    Code("ORC320", "no-lifecycle", E, "the organisation declares no lifecycle"),
    Code("ORC321", "guard-too-complex", E, "a guard nests too deep or has too many parts"),
    Code("ORC322", "escalation-levels-not-increasing", E,
         "an escalation policy's levels do not fire at strictly increasing times"),
    Code("ORC323", "state-class-mismatch", E, "a state class names a state that cannot mean it"),
    Code("ORC324", "rounds-not-a-loop", E, "a transition bounded by `rounds` never leads back to its state"),
    Code("ORC325", "rounds-path-unknown", E, "the path a bounded transition takes when its rounds run out is no "
                                            "other transition out of the state"),
    Code("ORC326", "rounds-dead-end", E, "when the rounds of a bounded transition run out into an escalation, no "
                                         "other transition leads out of the state"),
    Code("ORC327", "actor-never-there", E, "a transition is made only by `@assignee` before a task has one"),
    Code("ORC328", "peer-never-there", W, "tasks of a one-member domain can never leave a state that only `@peer` leaves"),
    # 4xx: protocols
    Code("ORC401", "delegation-off-hierarchy", E, "a delegation hop does not go to a direct report"),
    Code("ORC402", "standup-not-climbing", E, "a standup does not go up the hierarchy"),
    Code("ORC403", "standups-stop-short", E, "the chain of standups does not reach the top"),
    Code("ORC404", "handoff-same-domain", E, "a handoff goes from a domain to itself"),
    Code("ORC405", "handoff-without-checklist", E, "a handoff has no checklist"),
    Code("ORC406", "handoff-wrong-acceptor", E, "a handoff is accepted by someone other than the downstream lead"),
    Code("ORC407", "handoff-unknown-transition", E, "a handoff drives a transition that is not declared"),
    Code("ORC408", "channel-without-members", E, "a broadcast channel has no members"),
    Code("ORC409", "duplicate-handoff", E, "the same pair of domains has two handoffs"),
    Code("ORC410", "consultation-without-timeout", E, "a blocking consultation has no timeout"),
    Code("ORC411", "bad-progress-status", E, "a standup names a progress status that does not exist, or twice"),
    Code("ORC412", "status-never-reported", W, "a standup names a progress status it can never report"),
    Code("ORC413", "handoff-without-rejection", E, "a handoff has no rejection path"),
    # 5xx: assignment and capacity
    Code("ORC501", "weight-out-of-range", E, "an assignment weight is outside [0, 1]"),
    Code("ORC502", "weights-not-one", E, "the assignment weights do not sum to 1"),
    Code("ORC503", "unknown-factor", E, "an assignment factor that does not exist"),
    Code("ORC504", "capacity-not-increasing", E, "capacity thresholds are not strictly increasing"),
    Code("ORC505", "fit-not-monotonic", W, "harder work is fitted to less experience than easier work"),
    Code("ORC506", "unknown-complexity", E, "a complexity the assignment does not declare (by default simple, moderate, high)"),
    # 6xx: skills and domains
    Code("ORC601", "domain-without-members", E, "a domain has no member ICs"),
    Code("ORC602", "skill-nobody-holds", E, "a skill a domain requires is held by none of its members"),
    Code("ORC603", "levels-not-increasing", E, "a level scale's values are not strictly increasing"),
    Code("ORC604", "empty-category", W, "a skill category lists no skills"),
    # 7xx: tiers, gates and metrics
    Code("ORC701", "tier-gap", E, "tier numbers are not contiguous from 0"),
    Code("ORC702", "gate-without-reviewer", E, "a gate has no reviewer"),
    Code("ORC703", "gate-unknown-transition", E, "a gate guards a transition that is not declared"),
    Code("ORC704", "gate-outcome-target", E, "a gate outcome moves to a state the guarded transition cannot reach"),
    Code("ORC705", "gate-without-pass", E, "a gate has no passing outcome"),
    Code("ORC706", "score-bands-invalid", E, "score bands overlap, leave gaps or fall outside the score range"),
    Code("ORC707", "threshold-tier-not-gated", W, "a gate threshold is set for a tier where the gate does not apply"),
    Code("ORC708", "planning-range-invalid", E, "a planning range's minimum exceeds its maximum"),
    Code("ORC709", "reviewer-is-actor", E, "a gate's reviewer is the actor the gate checks"),
    Code("ORC710", "metric-target-out-of-range", E, "a metric target cannot be met or missed"),
    Code("ORC711", "step-wrong-layer", E, "an IC does a flow step that hands out or plans work"),
    # 8xx: declared and never used
    Code("ORC801", "unused-role", W, "a role is declared but nothing refers to it"),
    Code("ORC802", "unused-skill", W, "a skill is declared but no member holds or learns it"),
    Code("ORC803", "unused-gate", W, "a gate is declared but no tier's flow lists it"),
    Code("ORC804", "unused-experience", W, "an experience level is declared but never used"),
    Code("ORC805", "shared-color", W, "two roles share a colour"),
    Code("ORC806", "unused-escalation", W, "an escalation policy is declared but no state uses it"),
    # 9xx: values
    Code("ORC901", "invalid-value", E, "a value is outside what its field allows"),
    Code("ORC902", "number-too-large", E, "a number or a duration is larger than any field allows"),
]

CODES: dict[str, Code] = {c.code: c for c in _ALL}
BY_NAME: dict[str, Code] = {c.name: c for c in _ALL}

assert len(CODES) == len(_ALL), "duplicate code number"
assert len(BY_NAME) == len(_ALL), "duplicate code name"
