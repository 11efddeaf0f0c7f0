"""The syntax tree of a `.orch` file, as the parser builds it.

Nodes mirror the grammar and carry spans; nothing here is resolved or
checked. Simple keyword clauses (``title "x"``, ``reports_to y``) are generic
``Clause`` nodes named after their grammar rule; structured constructs have
their own classes. The lowering stage (``lower``) turns a list of files into
the model and reports names, duplicates and missing clauses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchdsl.diagnostics import Span


@dataclass(slots=True)
class Name:
    """An identifier or relation (``@lead``) where it occurs."""

    text: str
    span: Span

    @property
    def is_relation(self) -> bool:
        return self.text.startswith("@")


@dataclass(slots=True)
class Text:
    """A string literal, unquoted and unescaped."""

    value: str
    span: Span


@dataclass(slots=True)
class Num:
    """A number; percents are stored as fractions with ``percent`` set."""

    value: float
    span: Span
    percent: bool = False
    integer: bool = False


@dataclass(slots=True)
class Budget:
    """An amount of time, tokens or estimate.

    ``kind`` is ``time`` (value in seconds), ``tokens`` (a count),
    ``estimate`` (a fraction of the task's own estimate) or ``multiple``
    (a multiple of the state's SLA target, for thresholds only).
    """

    kind: str
    value: float
    text: str
    span: Span


@dataclass(slots=True)
class TierRange:
    """``1`` or ``1-2``: an inclusive range of tier numbers."""

    low: int
    high: int
    span: Span


# ------------------------------------------------------------------ guards


@dataclass(slots=True)
class Path:
    """A dotted name in a guard: a variable, or a bare enum member."""

    parts: list[str]
    span: Span

    @property
    def dotted(self) -> str:
        return ".".join(self.parts)


@dataclass(slots=True)
class Literal:
    """A constant in a guard; ``type`` is the literal's syntactic kind."""

    value: object
    type: str
    text: str
    span: Span


@dataclass(slots=True)
class BoolOp:
    """``a and b`` / ``a or b``."""

    op: str
    left: Expr
    right: Expr
    span: Span


@dataclass(slots=True)
class Not:
    arg: Expr
    span: Span


@dataclass(slots=True)
class Compare:
    op: str
    left: Expr
    right: Expr
    span: Span


@dataclass(slots=True)
class MemberOf:
    """``x in [a, b]``."""

    left: Expr
    items: list[Expr]
    span: Span


Expr = Path | Literal | BoolOp | Not | Compare | MemberOf


# ------------------------------------------------------------------ clauses and blocks


@dataclass(slots=True)
class Clause:
    """A keyword clause; ``kind`` is its grammar rule, ``value`` its payload.

    The payload's shape depends on the kind: a ``Name``, ``Text``, ``Num``,
    ``Budget``, an expression, or a list of these.
    """

    kind: str
    value: object
    span: Span


@dataclass(slots=True)
class Block:
    """A declaration with a name and clauses: role, domain, state, gate...

    ``kind`` is the grammar rule (``role``, ``state``...). ``name`` is absent
    for unnamed blocks (``skills``, ``assignment``...). ``extra`` holds what
    a particular block carries besides clauses (a member's count, a tier's
    number and title, a handoff's domains).
    """

    kind: str
    name: Name | None
    clauses: list[Clause | Block | Transition]
    span: Span
    extra: dict[str, object] = field(default_factory=dict)

    def of(self, kind: str) -> list[Clause | Block | Transition]:
        return [c for c in self.clauses if c.kind == kind]


@dataclass(slots=True)
class Transition:
    """``-> TARGET ["label"] [when G] [by A, ...] [after B]`` inside a state."""

    target: Name
    label: Text | None
    clauses: list[Clause]
    span: Span
    kind: str = "transition"


@dataclass(slots=True)
class Step:
    """One step of a tier's flow: ``actor[:stage]`` or ``gate NAME``."""

    actor: Name | None
    stage: Name | None
    gate: Name | None
    span: Span


@dataclass(slots=True)
class File:
    """One parsed file: its top-level items in order."""

    path: str
    items: list[Block | Clause]
