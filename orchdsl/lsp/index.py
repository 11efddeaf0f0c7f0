"""The names of an organisation, where each is declared and where it is used.

In: the syntax trees of an organisation's files. Out: an ``Index`` of
declarations and references of every kind of name (role, state, domain,
skill, level, experience, gate, channel, tier, stage, outcome, standup,
consultation, metric, escalation policy), and the outline of each file. The language server
answers go-to-definition, find-references, hover, completion and document
symbols from it.

Names are resolved as lowering resolves them (a role where a role is
expected, a state where a state is), but nothing is checked here: an unknown
name is a reference with no declaration. Relations (``@lead``) and ``*`` are
not names. A gate's outcomes are scoped by the gate: their key is
``gate/outcome``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from orchdsl import ast
from orchdsl.diagnostics import Span

KINDS = ("role", "state", "domain", "skill", "level", "experience", "gate", "channel", "tier", "stage",
         "outcome", "standup", "consultation", "metric", "category", "escalation")


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One place a name is written: its declaration or a use of it."""

    kind: str
    key: str  # the name (an outcome's is ``gate/outcome``)
    span: Span
    declaration: bool
    node: object = None  # the declaring block or clause, for declarations


@dataclass
class Outline:
    """A declaration in a file's outline, with what it contains."""

    kind: str
    name: str
    detail: str
    span: Span  # the whole declaration
    selection: Span  # its name
    children: list[Outline] = field(default_factory=list)


class Index:
    """Declarations and references of one organisation, searchable by place and by name."""

    def __init__(self, files: Iterable[ast.File]) -> None:
        self.occurrences: list[Occurrence] = []
        self.outlines: dict[str, list[Outline]] = {}
        for f in files:
            self.outlines[f.path] = _Walker(self.occurrences).file(f)
        self._by_key: dict[tuple[str, str], list[Occurrence]] = {}
        self._by_file: dict[str, list[Occurrence]] = {}
        for occ in self.occurrences:
            self._by_key.setdefault((occ.kind, occ.key), []).append(occ)
            self._by_file.setdefault(occ.span.file, []).append(occ)

    def at(self, file: str, line: int, column: int) -> Occurrence | None:
        """The name written at a place (1-based line and column), if any."""
        best = None
        for occ in self._by_file.get(file, ()):
            s = occ.span
            if (s.line, s.column) <= (line, column) <= (s.end_line, s.end_column):
                if best is None or _size(s) < _size(best.span):
                    best = occ
        return best

    def declarations(self, kind: str, key: str) -> list[Occurrence]:
        return [o for o in self._by_key.get((kind, key), ()) if o.declaration]

    def references(self, kind: str, key: str, include_declarations: bool = True) -> list[Occurrence]:
        return [o for o in self._by_key.get((kind, key), ()) if include_declarations or not o.declaration]

    def names(self, kind: str) -> list[str]:
        """Declared names of a kind, in the order of declaration, each once."""
        return list(dict.fromkeys(o.key for o in self.occurrences if o.kind == kind and o.declaration))


def _size(s: Span) -> tuple[int, int]:
    return (s.end_line - s.line, s.end_column - s.column)


# ---------------------------------------------------------------------- the walk

# Clauses whose value is a role (or a relation, which is no name).
_ROLE_CLAUSES = frozenset({"reports_to", "lead", "owner", "overdue", "accepted_by", "from_", "to", "fallback",
                           "reviewer", "notify", "escalate", "by", "chain", "members"})
_SKILL_LISTS = frozenset({"learning", "needs"})


def _names(value: object) -> Iterator[ast.Name]:
    """The names in a clause's value: a name, or a list or tuple of them."""
    if isinstance(value, ast.Name):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            if isinstance(v, ast.Name):
                yield v


class _Walker:
    def __init__(self, out: list[Occurrence]) -> None:
        self.out = out

    def add(self, kind: str, name: ast.Name | None, declaration: bool = False, node: object = None,
            key: str | None = None) -> None:
        if name is None or name.text.startswith("@") or name.text == "*":
            return
        self.out.append(Occurrence(kind, key or name.text, name.span, declaration, node))

    def role(self, value: object) -> None:
        for n in _names(value):
            self.add("role", n)

    def tiers(self, ranges: Iterable[object]) -> None:
        for r in ranges:
            if isinstance(r, ast.TierRange):
                self.tier_range(r)

    def tier_range(self, r: ast.TierRange) -> None:
        # A range names each of its ends; each end is a reference to its tier.
        s = r.span
        low = str(r.low)
        self.out.append(Occurrence("tier", low, Span(s.file, s.line, s.column, s.line, s.column + len(low)), False))
        if r.high != r.low and s.line == s.end_line:
            high = str(r.high)
            self.out.append(Occurrence("tier", high, Span(s.file, s.end_line, s.end_column - len(high),
                                                           s.end_line, s.end_column), False))

    # -- files and blocks --------------------------------------------------

    def file(self, f: ast.File) -> list[Outline]:
        outline: list[Outline] = []
        for item in f.items:
            if isinstance(item, ast.Block):
                outline.append(self.block(item, None))
        return outline

    def block(self, b: ast.Block, parent: ast.Block | None) -> Outline:
        kind = b.kind
        name = b.name
        children: list[Outline] = []
        selection = name.span if name else b.span
        label = name.text if name else kind
        detail = kind
        if kind in ("role", "domain", "state", "gate", "channel", "standup", "consultation", "metric",
                    "escalation"):
            self.add(kind, name, True, b)
        elif kind == "member":
            self.role(name)
            count = b.extra.get("count")
            detail = "member" + (f" ×{int(count.value)}" if isinstance(count, ast.Num) else "")
        elif kind == "tier":
            number = b.extra["number"]
            assert isinstance(number, ast.Num)
            label = str(int(number.value))
            selection = number.span
            self.out.append(Occurrence("tier", label, number.span, True, b))
            title = b.extra.get("title")
            detail = "tier" + (f" {title.value}" if isinstance(title, ast.Text) else "")
        elif kind == "handoff":
            src, dst = b.extra["from"], b.extra["to"]
            assert isinstance(src, ast.Name) and isinstance(dst, ast.Name)
            self.add("domain", src)
            self.add("domain", dst)
            label = f"{src.text} -> {dst.text}"
            selection = src.span
        elif kind == "experience":
            for c in b.clauses:
                if isinstance(c, tuple):  # `name = value`, as the parser gives a level
                    self.add("experience", c[0], True, b)
        for c in b.clauses:
            if isinstance(c, ast.Block):
                children.append(self.block(c, b))
            elif isinstance(c, ast.Transition):
                children.append(self.transition(c))
            elif isinstance(c, ast.Clause):
                self.clause(c, b)
        if kind == "metric":
            measure = b.extra.get("measure")
            if isinstance(measure, ast.Clause) and isinstance(measure.value, tuple):
                arg = measure.value[1]
                if isinstance(arg, ast.Name):
                    self.add("state", arg)
        return Outline(kind, label, detail, b.span, selection, children)

    def transition(self, t: ast.Transition) -> Outline:
        self.add("state", t.target)
        for c in t.clauses:
            if c.kind == "by":
                self.role(c.value)
        detail = t.label.value if t.label else "transition"
        return Outline("transition", f"-> {t.target.text}", detail, t.span, t.target.span)

    def clause(self, c: ast.Clause, b: ast.Block) -> None:
        k, v = c.kind, c.value
        if k == "notify" and isinstance(v, tuple) and len(v) == 3:  # recipients, `on` outcomes, text
            self.role(v[0])
            for n in _names(v[1]) if b.kind == "gate" and b.name is not None else ():
                assert b.name is not None
                self.add("outcome", n, key=f"{b.name.text}/{n.text}")
        elif k == "escalation":  # a state's policy: a name, or written in place
            if isinstance(v, ast.Block):
                for level in v.clauses:
                    if isinstance(level, ast.Clause):
                        self.clause(level, v)
            else:
                self.add("escalation", v if isinstance(v, ast.Name) else None)
        elif k == "level":
            assert isinstance(v, tuple)
            self.role(v[1])
        elif k == "warn" or (k == "escalate" and isinstance(v, tuple)):
            assert isinstance(v, tuple)
            self.role(v[1])
        elif k in _ROLE_CLAUSES:
            self.role(v)
        elif k in ("band",) and b.kind == "capacity":
            assert isinstance(v, tuple)
            if isinstance(v[2], ast.Clause):
                self.role(v[2].value)
        elif k == "band" and b.kind == "gate" and b.name is not None:
            assert isinstance(v, tuple)
            self.add("outcome", v[2], key=f"{b.name.text}/{v[2].text}")
        elif k in ("ic_limit", "sustained"):
            assert isinstance(v, tuple)
            if isinstance(v[-1], ast.Clause):
                self.role(v[-1].value)
        elif k == "guards" and isinstance(v, list):  # a gate guards transitions and stages
            for target in v:
                if isinstance(target, ast.Clause):
                    self.clause(target, b)
        elif k in ("on_accept", "on_reject", "transition"):
            for n in _names(v):
                self.add("state", n)
        elif k == "stage":
            self.add("stage", v if isinstance(v, ast.Name) else None)
        elif k == "outcome" and b.name is not None:
            assert isinstance(v, tuple)
            name, effect = v
            self.add("outcome", name, True, c, key=f"{b.name.text}/{name.text}")
            if isinstance(effect, ast.Clause) and effect.kind == "move":
                self.add("state", effect.value if isinstance(effect.value, ast.Name) else None)
        elif k == "flow":
            for step in v if isinstance(v, list) else []:
                if isinstance(step, ast.Step):
                    self.add("role", step.actor)
                    self.add("gate", step.gate)
                    self.add("stage", step.stage, True, step)
        elif k == "levels":
            for level, _ in v if isinstance(v, list) else []:
                self.add("level", level, True, c)
        elif k == "category":
            assert isinstance(v, tuple)
            cname, skills = v
            self.add("category", cname, True, c)
            for s in skills:
                self.add("skill", s, True, c)
        elif k == "skills":
            for skill, level in v if isinstance(v, list) else []:
                self.add("skill", skill)
                self.add("level", level)
        elif k in _SKILL_LISTS:
            for n in _names(v):
                self.add("skill", n)
        elif k == "member_experience":
            self.add("experience", v if isinstance(v, ast.Name) else None)
        elif k == "fit":
            for _, exp in v if isinstance(v, list) else []:
                self.add("experience", exp)
        elif k == "tiers":
            self.tiers(v if isinstance(v, list) else [])
        elif k == "sla" and isinstance(v, list):
            self.tiers(r for r, _ in v if r is not None)
        elif k == "threshold":
            assert isinstance(v, tuple)
            self.tiers(r for r, _ in v[1])
