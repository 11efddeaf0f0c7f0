"""Stage 2, lowering: the scope every area of lowering shares.

In: the syntax trees of one organisation's files (grouped by declaration
kind) and the diagnostics. Out: nothing by itself; the area modules
(``hierarchy``, ``resources``, ``lifecycle``, ``protocols``, ``tiers``) read
and fill the name tables kept here and resolve references through it.

``Scope`` holds what is declared so far (roles, domains, skills, levels,
states, gates, tiers), the entities in which an error was reported
(``broken``), and the resolution helpers: a reference to a role, a relation,
a state or a tier; a clause that may appear once; a name declared twice.
``Scope.build`` is the one place where pydantic errors become ORC901.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from orchdsl import ast
from orchdsl import model as m
from orchdsl.diagnostics import Diagnostics, Label, Span, did_you_mean

T = TypeVar("T", bound=BaseModel)

# Which relations may stand where. Keys are contexts named in messages.
RELATION_CONTEXTS: dict[str, tuple[str, ...]] = {
    "owner": ("@assignee", "@peer", "@lead"),
    "transition": ("@assignee", "@peer", "@lead", "@downstream_lead", "@system"),
    "threshold": ("@assignee", "@lead"),
    "delegation": ("@lead", "@member"),
    "channel": ("@lead", "@member"),
    "standup": ("@lead", "@member"),
    "consultation": ("@lead", "@member"),
    "reviewer": ("@assignee", "@peer", "@lead"),
    "acceptor": ("@downstream_lead",),
    "flow": ("@assignee", "@lead", "@member"),
    "action": ("@lead",),
    "fallback": ("@lead",),
    "escalation": ("@assignee", "@peer", "@lead", "@member", "@downstream_lead"),
    "instructions": ("@lead", "@member"),
}

CONTEXT_NAMES = {
    "owner": "a state's owner",
    "transition": "a transition's actor",
    "threshold": "an escalation target",
    "delegation": "a delegation hop",
    "channel": "a channel member",
    "standup": "a standup's sender or receiver",
    "consultation": "a consultation party",
    "reviewer": "a gate's reviewer",
    "acceptor": "a handoff's acceptor",
    "flow": "a flow step",
    "action": "a capacity action's target",
    "fallback": "the assignment fallback",
    "escalation": "an escalation level's target",
    "notify": "a notice's recipient",
    "instructions": "who may submit, create or close",
}


class Scope:
    """The names declared so far, and the diagnostics lowering adds.

    The tables are filled in the order ``lower`` runs the areas: tiers,
    skills and levels, experience, roles, domains, gates, then states. A
    reference is resolved only against tables filled before it.
    """

    def __init__(self, diags: Diagnostics) -> None:
        self.diags = diags
        self.files: list[ast.File] = []
        self.items: dict[str, list[Any]] = {}
        self.broken: set[tuple[str, str]] = set()
        self.declared_tiers: set[int] = set()
        self.skill_names: dict[str, ast.Name] = {}
        self.level_names: dict[str, ast.Name] = {}
        self.experience_names: dict[str, ast.Name] = {}
        self.roles: dict[str, ast.Block] = {}
        self.domains_by_name: dict[str, ast.Block] = {}
        self.domain_names: list[str] = []
        self.gate_blocks: dict[str, ast.Block] = {}
        self.state_names: dict[str, ast.Block] = {}
        self.escalation_blocks: dict[str, ast.Block] = {}
        self.escalations: dict[str, m.EscalationPolicy] = {}

    def blocks(self, kind: str) -> list[Any]:
        """The top-level declarations of one kind, in file order."""
        return self.items.get(kind, [])

    def mark(self, kind: str, name: str, before: int) -> bool:
        """Record ``(kind, name)`` as broken when diagnostics were added since ``before``."""
        if len(self.diags) > before:
            self.broken.add((kind, name))
            return True
        return False

    def build(self, cls: type[T], where_: Span | None, spans: dict[str, Span | None] | None = None,
              **fields: Any) -> T | None:
        """Validate into the model; map pydantic errors to ORC901 here, once.

        ``spans`` maps a field to the span of the clause that gave it; an error
        on that field is reported there, any other at ``where_``.
        """
        try:
            return cls(**fields)
        except ValidationError as err:
            for e in err.errors():
                where = ".".join(str(p) for p in e["loc"])
                what = f"`{where}`: " if where else ""
                value = e.get("input")
                shown = f" (got `{value}`)" if isinstance(value, (int, float, str)) else ""
                first = str(e["loc"][0]) if e["loc"] else ""
                span = (spans or {}).get(first) or where_
                self.diags.add("ORC901", f"{what}{e['msg'].lower()}{shown}", span)
            return None

    def one(self, block: ast.Block | ast.Transition, kind: str) -> Any:
        """The value of a clause that may appear at most once."""
        found = [c for c in block.clauses if c.kind == kind]
        if not found:
            return None
        first = found[0]
        for extra in found[1:]:
            self.diags.add("ORC007", f"`{kind}` is given more than once here", extra.span,
                           labels=[Label(first.span, "first given here")],
                           help=f"keep one `{kind}`")
        return first.value if isinstance(first, ast.Clause) else first

    def one_clause(self, block: ast.Block, kind: str) -> ast.Clause | None:
        """The clause itself (value and span) of a clause that may appear at most once."""
        found = [c for c in block.clauses if c.kind == kind]
        self.one(block, kind)
        c = found[0] if found else None
        return c if isinstance(c, ast.Clause) else None

    def define(self, table: dict[str, Any], what: str, name: ast.Name, value: Any) -> bool:
        """Declare ``name`` in ``table``; a second declaration is ORC101 and is not kept."""
        if name.text in table:
            prev = table[name.text]
            prev_span = getattr(prev, "span", None)
            labels = [Label(prev_span, "first declared here")] if isinstance(prev_span, Span) else []
            self.diags.add("ORC101", f"{what} `{name.text}` is declared twice", name.span,
                           labels=labels, help=f"rename one of them or remove the second `{name.text}`")
            return False
        table[name.text] = value
        return True

    def unknown(self, code: str, what: str, name: ast.Name, pool: Iterable[str],
                help: str | None = None) -> None:
        self.diags.add(code, f"unknown {what} `{name.text}`", name.span,
                       help=did_you_mean(name.text, pool) or help)

    def role(self, name: ast.Name | None) -> str | None:
        """A reference that must name a declared role (no relation)."""
        if name is None:
            return None
        if name.is_relation:
            self.diags.add("ORC110", f"a relation cannot stand here; `{name.text}` needs a role",
                           name.span, help="name a role")
            return None
        if name.text not in self.roles:
            self.unknown("ORC102", "role", name, self.roles)
            return None
        return name.text

    def actor(self, name: ast.Name | None, context: str) -> str | None:
        """A role, or a relation that has a meaning in ``context`` (``RELATION_CONTEXTS``)."""
        if name is None:
            return None
        if name.is_relation:
            if name.text not in m.RELATIONS:
                self.unknown("ORC109", "relation", name, m.RELATIONS,
                             help="relations are " + ", ".join(m.RELATIONS))
                return None
            allowed = RELATION_CONTEXTS[context]
            if name.text not in allowed:
                self.diags.add(
                    "ORC110", f"`{name.text}` has no meaning as {CONTEXT_NAMES[context]}", name.span,
                    help=f"use a role or one of {', '.join(allowed)}",
                )
                return None
            return name.text
        return self.role(name)

    def state(self, name: ast.Name) -> str | None:
        if name.text not in self.state_names:
            self.unknown("ORC103", "state", name, self.state_names)
            return None
        return name.text

    def pair(self, value: Any) -> tuple[str, str] | None:
        """A transition written ``A -> B`` (handoffs, gates): both states declared."""
        if value is None:
            return None
        src, dst = value
        a, b = self.state(src), self.state(dst)
        return (a, b) if a and b else None

    def budget(self, b: ast.Budget | None) -> m.Budget | None:
        if b is None:
            return None
        return self.build(m.Budget, b.span, kind=b.kind, value=b.value, text=b.text, span=b.span)

    def names(self, value: Any) -> list[ast.Name]:
        return list(value or [])

    def tiers(self, ranges: list[ast.TierRange]) -> list[int]:
        """The tier numbers of ranges such as ``1-2, 4``; each must be declared."""
        out: list[int] = []
        for r in ranges:
            if r.low > r.high:
                self.diags.add("ORC901", f"tier range `{r.low}-{r.high}` runs backwards", r.span,
                               help=f"write `{r.high}-{r.low}`")
                continue
            for t in range(r.low, r.high + 1):
                if self.declared_tiers and t not in self.declared_tiers:
                    self.diags.add("ORC318", f"tier {t} is not declared", r.span,
                                   help="declared tiers: " + ", ".join(map(str, sorted(self.declared_tiers))))
                    break
                if t not in out:
                    out.append(t)
        return sorted(out)


def payload(v: object) -> Any:
    """A clause's payload, whose shape its kind determines (see ``ast.Clause``)."""
    return v


def named(block: ast.Block) -> ast.Name:
    """The name of a block that always has one (role, state, channel, member...)."""
    assert block.name is not None
    return block.name


def clause_span(block: ast.Block, kind: str) -> Span | None:
    """The span of the first clause of a kind (without reporting repeats)."""
    for c in block.clauses:
        if c.kind == kind:
            return c.span
    return None


def text(v: Any) -> str | None:
    return v.value if isinstance(v, ast.Text) else None


def name_of(v: Any) -> str | None:
    return v.text if isinstance(v, ast.Name) else None
