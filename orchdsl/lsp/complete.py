"""Completion: what may be written at a place in a spec, from the grammar itself.

In: a document's text, a place in it, and the index of its names. Out: the
keywords the grammar accepts there and, where it accepts a name, the declared
names of the kind that stands there (roles after ``reports_to``, states after
``->`` in a state, skills in a member's ``skills``...). The text of the
current top-level declaration up to the place is fed to Lark's interactive
LALR parser, which says which tokens may come next.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from lark import Token
from lark.exceptions import LarkError

from orchdsl.fmt import _tree_parser
from orchdsl.lsp.index import Index
from orchdsl.parser import _top_line, top_keywords

_WORD = re.compile(r"[A-Za-z0-9_@.-]*$")

# The kind of name after a clause keyword (the last keyword before the place).
_AFTER_KEYWORD = {
    "REPORTS_TO": "role", "LEAD": "role", "OWNER": "role", "ACCEPTED_BY": "role", "REVIEWER": "role",
    "NOTIFY": "role", "FALLBACK": "role", "TO": "role", "FROM": "role", "BY": "role", "MEMBERS": "role",
    "OVERDUE": "role", "MEMBER": "role", "ESCALATE": "role", "CHAIN": "role", "GATE": "gate",
    "STAGE": "stage", "SKILLS": "skill", "LEARNING": "skill", "NEEDS": "skill", "EXPERIENCE": "experience",
    "HANDOFF": "domain", "ACCEPT": "state", "REJECT": "state", "GUARDS": "state", "METRIC": "state",
    "ESCALATION": "escalation", "ON": "outcome",
}
# The kind of name after `->`, by the keyword that began the clause.
_AFTER_ARROW = {"CHAIN": "role", "FLOW": "role", "HANDOFF": "domain", "BAND": "outcome"}
# After `:`, by the clause keyword.
_AFTER_COLON = {"SKILLS": "level", "FIT": "experience", "FLOW": "stage"}


@dataclass(frozen=True)
class Item:
    label: str
    kind: str  # "keyword", "relation", or a kind of name
    detail: str = ""


@lru_cache(maxsize=1)
def keyword_terminals() -> dict[str, tuple[str, ...]]:
    """Every keyword of the grammar, by terminal: the literal words, and the words of the
    terminals that are a choice of words (``success|failure``, ``true``...)."""
    lark, _ = _tree_parser()
    out: dict[str, tuple[str, ...]] = {}
    for t in lark.terminals:
        value = t.pattern.value
        if t.pattern.type == "str" and re.fullmatch(r"[a-z_]+", value):
            out[t.name] = (value,)
        elif t.pattern.type == "re":
            words = re.fullmatch(r"\(\?:((?:[a-z_]+\|)*[a-z_]+)\)|([a-z_]+)", value)
            if words:
                out[t.name] = tuple((words.group(1) or words.group(2)).split("|"))
    return out


def keywords() -> set[str]:
    return {w for words in keyword_terminals().values() for w in words}


def _accepts(text: str) -> tuple[set[str], list[Token]] | None:
    """The terminals the grammar accepts after ``text``, and the tokens before them."""
    lark, _ = _tree_parser()
    tokens: list[Token] = []
    try:
        ip = lark.parse_interactive(text)
        for tok in ip.iter_parse():
            tokens.append(tok)
        accepted: set[str] = ip.accepts()  # type: ignore[no-untyped-call]
        return accepted, tokens
    except LarkError:
        return None


# Keywords inside a clause, passed over when looking for the keyword that began it.
_INNER = frozenset({"GATE", "TO", "BY", "WHEN", "AFTER", "AND", "OR", "NOT", "IN", "TRUE", "FALSE",
                    "ESTIMATE", "OF"})


def _kind(tokens: list[Token]) -> str | None:
    """The kind of name that stands after these tokens (a top-level declaration's own
    name is new: nothing is offered for it)."""
    names = keyword_terminals()
    keywords_before = [i for i, t in enumerate(tokens) if t.type in names]
    if not tokens or not keywords_before:
        return None
    last = tokens[-1]
    recent = tokens[keywords_before[-1]].type
    if last.type == "COLON":
        return _AFTER_COLON.get(recent)
    if str(last) == "->":
        began = next((tokens[i].type for i in reversed(keywords_before) if tokens[i].type not in _INNER), "")
        return _AFTER_ARROW.get(began, "state")
    if last.type == "LPAR":
        return "state" if recent == "METRIC" else None
    if keywords_before == [0] and last is tokens[0] and str(last) in top_keywords() and str(last) != "handoff":
        return None
    if recent in ("TIER", "TIERS"):
        return "tier"
    if recent in ("WHEN", "AND", "OR", "NOT"):
        return "variable"
    return _AFTER_KEYWORD.get(recent)


def complete(text: str, offset: int, index: Index) -> list[Item]:
    """What may be written at ``offset`` of ``text``."""
    prefix = _WORD.search(text, 0, offset)
    start = prefix.start() if prefix else offset
    tops = [m.start() for m in _top_line().finditer(text, 0, start)]
    chunk_start = tops[-1] if tops and tops[-1] < start else 0
    found = _accepts(text[chunk_start:start])
    kw = keyword_terminals()
    if found is None:  # the text before does not parse: offer the top-level keywords
        return [Item(k, "keyword") for k in top_keywords()]
    accepts, tokens = found
    items = [Item(w, "keyword") for t in sorted(accepts) if t in kw for w in kw[t]]
    if "RELATION" in accepts:
        from orchdsl.model import RELATIONS

        items += [Item(r, "relation") for r in RELATIONS]
    kind = _kind(tokens)
    if kind == "variable" and "NAME" in accepts:
        from orchdsl.guards import task_environment
        from orchdsl.model import DEFAULT_PRIORITIES

        env = task_environment(index.names("domain"), list(DEFAULT_PRIORITIES))  # the variables' names
        items += [Item(v, "variable", str(t)) for v, t in env.items()]
    elif kind == "tier" and "INT" in accepts:
        items += [Item(n, "tier") for n in index.names("tier")]
    elif kind is not None and "NAME" in accepts:
        if kind == "outcome":  # the outcomes of the gate being written
            gate = str(tokens[1]) if len(tokens) > 1 and tokens[0].type == "GATE" else ""
            items += [Item(k.split("/", 1)[1], "outcome") for k in index.names("outcome")
                      if k.startswith(f"{gate}/")]
        else:
            items += [Item(n, kind) for n in index.names(kind)]
    seen: set[tuple[str, str]] = set()
    out = []
    for it in items:
        if (it.label, it.kind) not in seen:
            seen.add((it.label, it.kind))
            out.append(it)
    return out
