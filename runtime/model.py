"""The model as the runtime sees it: the compiled model JSON, indexed.

In: the compiled model (a path to ``model.json`` or the parsed dict), as
written by ``orchdsl compile``. ``load_model`` checks the format version,
validates the document against the bundled JSON Schema
(``compiled-model.schema.json``, a copy of the compiler's), checks the
references the engine follows, and builds the indexes the command path uses:
states, per-(state, target) transition records with compiled guards and
resolved actor checks, gates, agents and their domains, domain leads and
members, skill levels and member profiles for assignment.

Nothing here imports the compiler; loading happens once, so schema validation
is done here and never on the command path.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .assignment import Candidate, candidate_from_member
from .errors import ModelError
from .guards import Guard, compile_guard

FORMAT_VERSION = 1
RELATIONS = frozenset({"@assignee", "@peer", "@lead", "@member", "@downstream_lead", "@system"})
COMPLEXITIES = ("simple", "moderate", "high")
KINDS = ("strategic", "tactical")
DEFAULT_PRIORITIES = ("critical", "high", "normal", "low")


@dataclass(frozen=True, slots=True)
class Budget:
    """``time`` (seconds), ``tokens`` (count), ``estimate`` (share of the
    task's estimate) or ``multiple`` (of the state's target)."""

    kind: str
    value: float
    text: str


@dataclass(frozen=True, slots=True)
class ActorCheck:
    """Who may act: role ids, and relations resolved per task by the engine."""

    roles: frozenset[str]
    relations: frozenset[str]
    text: tuple[str, ...]


@dataclass(slots=True)
class TransitionRec:
    source: str
    target: str
    label: str | None
    actors: ActorCheck
    guard: Guard | None
    guard_tree: dict[str, Any] | None
    guard_text: str | None
    guard_vars: tuple[str, ...]
    after: Budget | None
    tiers: frozenset[int]
    gates: tuple[tuple[str, frozenset[int]], ...]

    def gates_at(self, tier: int) -> tuple[str, ...]:
        """The gates guarding this transition at a tier."""
        return tuple(g for g, tiers in self.gates if tier in tiers)


@dataclass(slots=True)
class Threshold:
    budget: Budget
    to: str | None


@dataclass(slots=True)
class StateRec:
    name: str
    initial: bool
    terminal: str | None
    owner: str | None
    sla: tuple[tuple[frozenset[int] | None, Budget], ...]
    warn: Threshold | None
    escalate: Threshold | None
    heartbeat: Budget | None
    tiers: frozenset[int]
    requires: tuple[str, ...]
    out: dict[str, TransitionRec]
    automatic: tuple[TransitionRec, ...]

    def target_for(self, tier: int) -> Budget | None:
        for tiers, budget in self.sla:
            if tiers is None or tier in tiers:
                return budget
        return None


@dataclass(slots=True)
class Outcome:
    name: str
    effect: str
    target: str | None


@dataclass(slots=True)
class GateRec:
    name: str
    reviewer: ActorCheck | None
    outcomes: dict[str, Outcome]
    opens: dict[str, frozenset[int]]
    """source state -> tiers where the gate guards a transition out of it"""
    thresholds: dict[str, dict[int, float]]
    score_categories: tuple[str, ...]
    score_min: int | None
    score_max: int | None
    bands: tuple[tuple[int, int, str], ...]


@dataclass(frozen=True, slots=True)
class AgentInfo:
    id: str
    role: str
    domain: str | None
    kind: str
    """``staff``, ``lead`` or ``member`` (the kind of its role)"""


@dataclass(slots=True)
class Model:
    """The loaded, indexed compiled model."""

    data: dict[str, Any]
    digest: str
    name: str
    tiers: frozenset[int]
    initial: str
    states: dict[str, StateRec]
    roles: dict[str, dict[str, Any]]
    role_ancestors: dict[str, tuple[str, ...]]
    agents: dict[str, AgentInfo]
    agents_by_role: dict[str, tuple[str, ...]]
    domains: dict[str, dict[str, Any]]
    domain_lead_role: dict[str, str]
    domain_members: dict[str, tuple[str, ...]]
    gates: dict[str, GateRec]
    skills: frozenset[str]
    experience_rank: dict[str, int]
    candidates: dict[str, Candidate]
    """member agent -> its assignment data (``committed_hours`` 0; the engine fills it in)"""
    priorities: tuple[str, ...]
    weights: dict[str, float]
    assignment_filter: Guard | None
    fit: dict[str, int]
    fallback: str | None
    hours_per_day: float
    horizon_days: float
    capacity: dict[str, Any] | None
    extra: dict[str, Any] = field(default_factory=dict)

    def agents_for(self, actor: str, domain: str | None) -> tuple[str, ...]:
        """Agents an actor names for a task of ``domain`` (role or @lead/@member);
        used for notification targets, where no per-task relation is needed."""
        if actor == "@lead":
            role = self.domain_lead_role.get(domain or "")
            return self.agents_by_role.get(role, ()) if role else ()
        if actor == "@member":
            return self.domain_members.get(domain or "", ())
        return self.agents_by_role.get(actor, ())


def digest_of(data: Mapping[str, Any]) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def bundled_schema() -> dict[str, Any]:
    text = resources.files(__package__ or "orchdsl_runtime").joinpath("compiled-model.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def load_model(source: str | Path | Mapping[str, Any], validate: bool = True) -> Model:
    """Load a compiled model from a path or a parsed dict; ``ModelError`` if unusable."""
    if isinstance(source, Mapping):
        data = json.loads(json.dumps(source))
    else:
        try:
            data = json.loads(Path(source).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot read the compiled model `{source}`: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelError("the compiled model must be a JSON object")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelError(f"compiled model format_version is {version!r}; this runtime reads {FORMAT_VERSION}")
    if validate:
        _validate(data)
    return _index(data)


def _validate(data: dict[str, Any]) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(bundled_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10]]
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        raise ModelError("the compiled model does not match its schema: " + "; ".join(lines) + more)


def _budget(b: Mapping[str, Any] | None) -> Budget | None:
    if b is None:
        return None
    return Budget(str(b["kind"]), float(b["value"]), str(b.get("text", "")))


def _actors(actors: list[str]) -> ActorCheck:
    return ActorCheck(
        roles=frozenset(a for a in actors if not a.startswith("@")),
        relations=frozenset(a for a in actors if a.startswith("@")),
        text=tuple(actors),
    )


def _index(data: dict[str, Any]) -> Model:
    problems: list[str] = []
    roles = {r["id"]: r for r in data.get("roles", [])}
    ancestors: dict[str, tuple[str, ...]] = {}
    for rid in roles:
        chain: list[str] = []
        cur = roles[rid].get("reports_to")
        while cur and cur in roles and cur not in chain and cur != rid:
            chain.append(cur)
            cur = roles[cur].get("reports_to")
        ancestors[rid] = tuple(chain)

    agents: dict[str, AgentInfo] = {}
    by_role: dict[str, list[str]] = {}
    for a in data.get("agents", []):
        role = roles.get(a["role"])
        if role is None:
            problems.append(f"agent `{a['id']}` has unknown role `{a['role']}`")
            continue
        agents[a["id"]] = AgentInfo(a["id"], a["role"], a.get("domain"), str(role.get("kind", "staff")))
        by_role.setdefault(a["role"], []).append(a["id"])

    domains = {d["name"]: d for d in data.get("domains", [])}
    lead_role = {name: str(d["lead"]) for name, d in domains.items()}
    members = {
        name: tuple(a.id for a in agents.values() if a.domain == name and a.kind == "member") for name in domains
    }
    skills_data = data.get("skills", {})
    skills = frozenset(s for c in skills_data.get("categories", []) for s in c["skills"])
    exp_rank = {str(lv["name"]): i for i, lv in enumerate(sorted(data.get("experience", []), key=lambda x: x["value"]))}

    candidates: dict[str, Candidate] = {}
    capacity = data.get("capacity")
    default_hpd = float(capacity["hours_per_day"]) if capacity else 8.0
    levels = skills_data.get("levels", [])
    experience = data.get("experience", [])
    for d in domains.values():
        for m in d.get("members", []):
            for aid in by_role.get(m["role"], ()):
                if agents[aid].domain != d["name"]:
                    continue
                try:
                    candidates[aid] = candidate_from_member(
                        aid, m, levels, experience, default_hours_per_day=default_hpd
                    )
                except KeyError as exc:
                    problems.append(f"member `{aid}` uses an unknown level {exc}")

    lifecycle = data.get("lifecycle", {})
    tiers = frozenset(int(t) for t in lifecycle.get("tiers", []))
    states: dict[str, StateRec] = {}
    names = {s["name"] for s in lifecycle.get("states", [])}
    for s in lifecycle.get("states", []):
        out: dict[str, TransitionRec] = {}
        for t in s.get("transitions", []):
            if t["target"] not in names:
                problems.append(f"transition `{s['name']} -> {t['target']}` leads to an unknown state")
                continue
            tree = t.get("guard")
            try:
                guard = compile_guard(tree) if tree is not None else None
            except ValueError as exc:
                problems.append(f"guard of `{s['name']} -> {t['target']}`: {exc}")
                continue
            out[t["target"]] = TransitionRec(
                source=s["name"],
                target=t["target"],
                label=t.get("label"),
                actors=_actors(list(t.get("actors", []))),
                guard=guard,
                guard_tree=tree,
                guard_text=t.get("guard_text"),
                guard_vars=tuple(sorted(guard.variables)) if guard is not None else (),
                after=_budget(t.get("after")),
                tiers=frozenset(t.get("tiers", [])),
                gates=tuple((g, frozenset(ts)) for g, ts in sorted((t.get("gates") or {}).items())),
            )
        warn, esc = s.get("warn"), s.get("escalate")
        states[s["name"]] = StateRec(
            name=s["name"],
            initial=bool(s.get("initial")),
            terminal=s.get("terminal"),
            owner=s.get("owner"),
            sla=tuple(
                (frozenset(tb["tiers"]) if tb.get("tiers") is not None else None, _budget(tb["budget"]))  # type: ignore[misc]
                for tb in s.get("sla", [])
            ),
            warn=Threshold(_budget(warn["budget"]), warn.get("to")) if warn else None,  # type: ignore[arg-type]
            escalate=Threshold(_budget(esc["budget"]), esc.get("to")) if esc else None,  # type: ignore[arg-type]
            heartbeat=_budget(s.get("heartbeat")),
            tiers=frozenset(s.get("tiers") or tiers),
            requires=tuple(s.get("requires", [])),
            out=out,
            automatic=tuple(t for t in out.values() if t.after is not None),
        )
    initial = lifecycle.get("initial") or next((s.name for s in states.values() if s.initial), None)
    if initial is None or initial not in states:
        problems.append("the lifecycle has no initial state")

    gates: dict[str, GateRec] = {}
    for g in data.get("gates", []):
        opens: dict[str, set[int]] = {}
        for st in states.values():
            for t in st.out.values():
                for gname, gtiers in t.gates:
                    if gname == g["name"]:
                        opens.setdefault(st.name, set()).update(gtiers & t.tiers)
        gates[g["name"]] = GateRec(
            name=g["name"],
            reviewer=_actors([g["reviewer"]]) if g.get("reviewer") else None,
            outcomes={o["name"]: Outcome(o["name"], o["effect"], o.get("target")) for o in g.get("outcomes", [])},
            opens={k: frozenset(v) for k, v in opens.items()},
            thresholds={c: {int(t): float(v) for t, v in by_tier.items()} for c, by_tier in (g.get("thresholds") or {}).items()},
            score_categories=tuple(g.get("score_categories", [])),
            score_min=g.get("score_min"),
            score_max=g.get("score_max"),
            bands=tuple((int(b["low"]), int(b["high"]), str(b["outcome"])) for b in g.get("bands", [])),
        )
        for o in gates[g["name"]].outcomes.values():
            if o.effect == "move" and o.target not in states:
                problems.append(f"gate `{g['name']}` outcome `{o.name}` moves to an unknown state")

    for rid, role in roles.items():
        if role.get("kind") == "lead" and role.get("domain") and role["domain"] not in domains:
            problems.append(f"role `{rid}` leads an unknown domain")
    for name, lead in lead_role.items():
        if lead not in roles:
            problems.append(f"domain `{name}` has unknown lead `{lead}`")
    if problems:
        raise ModelError("the compiled model is inconsistent: " + "; ".join(problems))

    assignment = data.get("assignment") or {}
    filt = assignment.get("filter")
    delegation = data.get("delegation") or {}
    return Model(
        data=data,
        digest=digest_of(data),
        name=str((data.get("org") or {}).get("name", "")),
        tiers=tiers,
        initial=str(initial),
        states=states,
        roles=roles,
        role_ancestors=ancestors,
        agents=agents,
        agents_by_role={r: tuple(ids) for r, ids in by_role.items()},
        domains=domains,
        domain_lead_role=lead_role,
        domain_members=members,
        gates=gates,
        skills=skills,
        experience_rank=exp_rank,
        candidates=candidates,
        priorities=tuple(delegation.get("priorities") or DEFAULT_PRIORITIES),
        weights={k: float(v) for k, v in (assignment.get("weights") or {}).items()},
        assignment_filter=compile_guard(filt) if filt is not None else None,
        fit={c: exp_rank.get(lv, 0) for c, lv in (assignment.get("fit") or {}).items()},
        fallback=assignment.get("fallback"),
        hours_per_day=default_hpd,
        horizon_days=float(capacity["horizon_days"]) if capacity else 3.0,
        capacity=capacity,
    )
