"""The inline transformer of the parser: Lark's tokens in, ``ast`` nodes out, with exact spans.

Every handler sees keywords and punctuation among its children (the grammar keeps all tokens,
for the spans) and filters them out. Values that cannot stand (numbers out of range, control
characters in strings) are recorded as problems for the parser to report; the tree is still
built.
"""

from __future__ import annotations

import re
from typing import Any

from lark import Token, Transformer, Tree
from orchdsl_runtime.contract import budgets

from orchdsl import ast
from orchdsl.diagnostics import Span

# Tokens that carry a value; every other token is a keyword or punctuation.
VALUE_TOKENS = frozenset(
    {
        "NAME", "RELATION", "STRING", "INT", "FLOAT", "PERCENT", "DURATION", "TOKENS",
        "MULTIPLE", "COUNT", "COMP_OP", "STAR", "TERMINAL_KIND", "BLOCKING", "TRUE", "FALSE",
        "STATE_CLASS", "TASK_KIND",
    }
)

MAX_DIGITS = 15
"""the most digits before the point of a number: numbers stay below 10^15, where every whole
number is exact as a float and within the contract's bounds on constants (2^53)"""

# Control characters a string may not hold: C0 but tab, DEL and C1, and the bidirectional
# embeddings, overrides and isolates that reorder how text is shown. A raw newline cannot
# be in a string; the escape `\n` gives one.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


_NUMERIC = frozenset({"INT", "FLOAT", "PERCENT", "DURATION", "TOKENS", "MULTIPLE", "COUNT"})


def _clip(text: str, keep: int = 24) -> str:
    return text if len(text) <= keep else f"{text[:keep // 2]}...{text[-keep // 2:]} ({len(text)} characters)"


def token_span(file: str, tok: Token) -> Span:
    return Span(file, tok.line or 0, tok.column or 0, tok.end_line or 0, tok.end_column or 0)


def _unquote(raw: str) -> str:
    body = raw[1:-1]
    if "\\" not in body:
        return body
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def char_name(c: str) -> str:
    """A character for a message: printable ones as themselves, others by code point."""
    return f"`{c}`" if c.isprintable() and c not in "`" else f"U+{ord(c):04X}"


class AstBuilder(Transformer[Token, Any]):
    """Builds ``ast`` nodes from grammar rules, one handler per rule.

    Rules that are plain ``keyword value`` clauses share one handler and
    become ``ast.Clause`` nodes; ``CLAUSE_RULES`` lists them so that the
    rule-coverage test can tell a handled rule from a forgotten one.
    """

    CLAUSE_RULES = frozenset(
        {
            "title", "description", "layer", "reports_to", "model", "color", "tools",
            "responsibilities", "lead", "member_experience", "hours", "learning", "needs",
            "owner", "heartbeat", "requires", "tiers", "when", "by", "after", "chain",
            "acknowledge", "overdue", "priorities", "kinds", "members", "checklist",
            "accepted_by", "from_", "to", "every", "sections", "blocking", "timeout",
            "default", "filter", "fallback", "horizon", "flow", "reviewer", "guards",
            "criteria", "initial", "terminal", "include", "repeat", "top", "submit_by", "close_by",
            "complexities", "labels",
        }
    )
    # Block rules: a keyword, an optional name, then clauses in braces.
    BLOCK_RULES = frozenset(
        {
            "skills", "experience", "role", "domain", "lifecycle", "state", "delegation",
            "broadcast", "standup", "consultation", "assignment", "capacity", "gate",
            "escalation", "instructions",
        }
    )

    def __init__(self) -> None:
        super().__init__(visit_tokens=False)
        self.file = "<input>"
        # Problems in value tokens (control characters, numbers out of range), found while
        # parsing: (code, message, span, help). ``parse_text`` reports them.
        self.problems: list[tuple[str, str, Span, str | None]] = []

    # -- helpers -------------------------------------------------------------

    def _span(self, children: list[Any]) -> Span:
        first = last = None
        for c in children:
            if c is None:
                continue
            first = c
            break
        for c in reversed(children):
            if c is None:
                continue
            last = c
            break
        a = self._start(first)
        b = self._end(last)
        return Span(self.file, a[0], a[1], b[0], b[1])

    def _start(self, node: Any) -> tuple[int, int]:
        if isinstance(node, Token):
            return node.line or 0, node.column or 0
        if isinstance(node, Tree):
            return self._start(node.children[0]) if node.children else (0, 0)
        if isinstance(node, (list, tuple)):
            return self._start(node[0]) if node else (0, 0)
        span = node.span
        return span.line, span.column

    def _end(self, node: Any) -> tuple[int, int]:
        if isinstance(node, Token):
            return node.end_line or 0, node.end_column or 0
        if isinstance(node, Tree):
            return self._end(node.children[-1]) if node.children else (0, 0)
        if isinstance(node, (list, tuple)):
            return self._end(node[-1]) if node else (0, 0)
        span = node.span
        return span.end_line, span.end_column

    def _value(self, tok: Token) -> Any:
        """A value token as the AST node for it."""
        t = tok.type
        span = token_span(self.file, tok)
        s = str(tok)
        if t == "STRING":
            self._check_string(tok)
        elif t in _NUMERIC and not self._number_ok(tok, span):
            s = re.sub(r"[0-9.]+", "1", s, count=1)  # a stand-in, so that building the tree goes on
        if t in ("NAME", "RELATION", "STAR", "TERMINAL_KIND", "BLOCKING", "COMP_OP", "STATE_CLASS", "TASK_KIND"):
            return ast.Name(s, span)
        if t == "STRING":
            return ast.Text(_unquote(s), span)
        if t == "INT":
            return ast.Num(float(s), span, integer=True)
        if t == "FLOAT":
            return ast.Num(float(s), span)
        if t == "PERCENT":
            return ast.Num(float(s[:-1]) / 100.0, span, percent=True)
        if t in ("DURATION", "TOKENS"):
            dim, value = budgets.parse_budget(s)  # the grammar's units are the contract's
            return ast.Budget(dim, value, s, span)
        if t == "MULTIPLE":
            return ast.Budget("multiple", float(s[:-1]), s, span)
        if t == "COUNT":
            return ast.Num(float(s[1:]), span, integer=True)
        if t in ("TRUE", "FALSE"):
            return ast.Literal(t == "TRUE", "bool", s, span)
        raise AssertionError(f"unhandled token type {t}")

    def _check_string(self, tok: Token) -> None:
        found = _CONTROL.search(str(tok))
        if found is None:
            return
        line, col = tok.line or 0, (tok.column or 0) + found.start()
        self.problems.append((
            "ORC013", f"this string holds the control character {char_name(found.group())}",
            Span(self.file, line, col, line, col + 1),
            "strings hold printable text, tabs, and newlines written `\\n`; remove the character"))

    def _number_ok(self, tok: Token, span: Span) -> bool:
        """Whether a number is within bounds; if not, the problem is recorded (ORC902)."""
        s = str(tok)
        whole = re.search(r"[0-9]+", s)
        if whole is not None and len(whole.group().lstrip("0")) > MAX_DIGITS:
            self.problems.append(("ORC902", f"`{_clip(s)}` is too large; a number has at most "
                                  f"{MAX_DIGITS} digits before the point", span, None))
            return False
        if tok.type in ("DURATION", "TOKENS"):
            try:
                budgets.parse_budget(s)
            except budgets.BudgetError:
                longest = (budgets.time_text(budgets.MAX_SECONDS) if tok.type == "DURATION"
                           else budgets.tokens_text(budgets.MAX_TOKENS))
                self.problems.append(("ORC902", f"`{s}` is more than `{longest}`, the largest "
                                      f"{'duration' if tok.type == 'DURATION' else 'token amount'}",
                                      span, None))
                return False
        return True

    def _values(self, children: list[Any]) -> list[Any]:
        out = []
        for c in children:
            if c is None:
                continue
            if isinstance(c, Token):
                if c.type in VALUE_TOKENS:
                    out.append(self._value(c))
            elif isinstance(c, Tree):
                out.extend(self._values(c.children))
            else:
                out.append(c)
        return out

    def __default__(self, data: Any, children: list[Any], meta: Any) -> Any:
        name = str(data)
        if name.startswith("_"):
            # Inlined rules are expanded into their parent by Lark itself.
            return Tree(data, children)
        if name in self.CLAUSE_RULES:
            vals = self._values(children)
            if name in ("initial",):
                value: object = True
            elif name == "terminal":
                value = vals[0].text if vals else "success"
            elif name == "blocking":
                value = vals[0].text == "blocking"
            elif name in ("tools", "learning", "needs", "requires", "priorities", "kinds",
                          "sections", "criteria", "top", "complexities", "labels"):
                value = vals[0] if vals else []
            elif name in ("responsibilities", "checklist", "tiers", "by", "chain", "members",
                          "guards", "flow", "submit_by", "close_by"):
                value = vals
            else:
                value = vals[0] if vals else None
            return ast.Clause(name, value, self._span(children))
        if name in self.BLOCK_RULES:
            return self._block(name, children)
        raise AssertionError(f"no handler for grammar rule {name!r}")

    def _block(self, kind: str, children: list[Any]) -> ast.Block:
        vals = self._values(children)
        name = None
        if vals and isinstance(vals[0], ast.Name):
            name = vals.pop(0)
        return ast.Block(kind, name, vals, self._span(children))

    # -- top level -----------------------------------------------------------

    def start(self, children: list[Any]) -> list[Any]:
        return [c for c in children if c is not None and not isinstance(c, Token)]

    def org(self, children: list[Any]) -> ast.Block:
        vals = self._values(children)
        name = vals.pop(0)
        version = vals.pop(0) if vals and isinstance(vals[0], ast.Text) else None
        return ast.Block("org", name, vals, self._span(children), {"version": version})

    def levels(self, children: list[Any]) -> ast.Clause:
        return ast.Clause("levels", self._values(children), self._span(children))

    def level_def(self, children: list[Any]) -> tuple[ast.Name, ast.Num]:
        name, num = self._values(children)
        return name, num

    def category(self, children: list[Any]) -> ast.Clause:
        vals = self._values(children)
        name = vals.pop(0)
        skills = vals[0] if vals else []
        return ast.Clause("category", (name, skills), self._span(children))

    def name_list(self, children: list[Any]) -> list[ast.Name]:
        return self._values(children)

    def experience(self, children: list[Any]) -> ast.Block:
        return ast.Block("experience", None, self._values(children), self._span(children))

    def member(self, children: list[Any]) -> ast.Block:
        vals = self._values(children)
        role = vals.pop(0)
        count = vals.pop(0) if vals and isinstance(vals[0], ast.Num) else None
        return ast.Block("member", role, vals, self._span(children), {"count": count})

    def held_skills(self, children: list[Any]) -> ast.Clause:
        return ast.Clause("skills", self._values(children), self._span(children))

    def skill_level(self, children: list[Any]) -> tuple[ast.Name, ast.Name]:
        skill, level = self._values(children)
        return skill, level

    def performance(self, children: list[Any]) -> ast.Clause:
        return ast.Clause("performance", self._values(children), self._span(children))

    def perf_item(self, children: list[Any]) -> tuple[ast.Name, ast.Num]:
        name, num = self._values(children)
        return name, num

    # -- lifecycle -----------------------------------------------------------

    def sla_all(self, children: list[Any]) -> ast.Clause:
        (budget,) = self._values(children)
        return ast.Clause("sla", [(None, budget)], self._span(children))

    def sla_tiers(self, children: list[Any]) -> ast.Clause:
        return ast.Clause("sla", self._values(children), self._span(children))

    def tier_budget(self, children: list[Any]) -> tuple[ast.TierRange, ast.Budget]:
        rng, budget = self._values(children)
        return rng, budget

    def tier_range(self, children: list[Any]) -> ast.TierRange:
        nums = self._values(children)
        low = int(nums[0].value)
        high = int(nums[1].value) if len(nums) > 1 else low
        return ast.TierRange(low, high, self._span(children))

    def state_class(self, children: list[Any]) -> ast.Clause:
        kind, *states = self._values(children)
        return ast.Clause("state_class", (kind, states), self._span(children))

    def warn(self, children: list[Any]) -> ast.Clause:
        vals = self._values(children)
        return ast.Clause("warn", (vals[0], vals[1] if len(vals) > 1 else None), self._span(children))

    def escalate(self, children: list[Any]) -> ast.Clause:
        threshold, target = self._values(children)
        return ast.Clause("escalate", (threshold, target), self._span(children))

    def notification(self, children: list[Any]) -> ast.Clause:
        vals = self._values(children)
        text = vals.pop() if vals and isinstance(vals[-1], ast.Text) else None
        on = vals.pop() if vals and isinstance(vals[-1], list) else None
        return ast.Clause("notify", (vals, on, text), self._span(children))

    def escalation_use(self, children: list[Any]) -> ast.Clause:
        (name,) = self._values(children)
        return ast.Clause("escalation", name, self._span(children))

    def escalation_inline(self, children: list[Any]) -> ast.Clause:
        span = self._span(children)
        return ast.Clause("escalation", ast.Block("escalation", None, self._values(children), span), span)

    def level(self, children: list[Any]) -> ast.Clause:
        vals = self._values(children)
        return ast.Clause("level", (vals[0], vals[1:]), self._span(children))

    def transition(self, children: list[Any]) -> ast.Transition:
        vals = self._values(children)
        target = vals.pop(0)
        label = vals.pop(0) if vals and isinstance(vals[0], ast.Text) else None
        return ast.Transition(target, label, vals, self._span(children))

    def rounds_move(self, children: list[Any]) -> ast.Clause:
        limit, target = self._values(children)
        return ast.Clause("rounds", (limit, "move", target), self._span(children))

    def rounds_escalate(self, children: list[Any]) -> ast.Clause:
        limit, target = self._values(children)
        return ast.Clause("rounds", (limit, "escalate", target), self._span(children))

    def threshold(self, children: list[Any]) -> ast.Budget:
        (value,) = self._values(children)
        return value  # type: ignore[no-any-return]

    def budget_expr(self, children: list[Any]) -> ast.Budget:
        (value,) = self._values(children)
        return value  # type: ignore[no-any-return]

    def estimate(self, children: list[Any]) -> ast.Budget:
        return ast.Budget("estimate", 1.0, "estimate", self._span(children))

    def estimate_share(self, children: list[Any]) -> ast.Budget:
        (pct,) = self._values(children)
        span = self._span(children)
        return ast.Budget("estimate", pct.value, f"{pct.value * 100:g}% of estimate", span)

    def actor(self, children: list[Any]) -> ast.Name:
        (name,) = self._values(children)
        return name  # type: ignore[no-any-return]

    # -- guards --------------------------------------------------------------

    def or_(self, children: list[Any]) -> ast.BoolOp:
        left, right = self._values(children)
        return ast.BoolOp("or", left, right, self._span(children))

    def and_(self, children: list[Any]) -> ast.BoolOp:
        left, right = self._values(children)
        return ast.BoolOp("and", left, right, self._span(children))

    def not_(self, children: list[Any]) -> ast.Not:
        (arg,) = self._values(children)
        return ast.Not(arg, self._span(children))

    def compare(self, children: list[Any]) -> ast.Compare:
        left, op, right = self._values(children)
        return ast.Compare(op.text, left, right, self._span(children))

    def member_of(self, children: list[Any]) -> ast.MemberOf:
        vals = self._values(children)
        return ast.MemberOf(vals[0], vals[1:], self._span(children))

    def operand(self, children: list[Any]) -> ast.Expr:
        # Only reached for a parenthesised expression: "(" expr ")". The node
        # takes the span of the parentheses, so that an enclosing node ends
        # where its text does.
        (inner,) = self._values(children)
        inner.span = self._span(children)
        return inner  # type: ignore[no-any-return]

    def path(self, children: list[Any]) -> ast.Path:
        parts = [n.text for n in self._values(children)]
        return ast.Path(parts, self._span(children))

    def literal(self, children: list[Any]) -> ast.Literal:
        (v,) = self._values(children)
        span = self._span(children)
        text = "".join(str(c) for c in children if isinstance(c, Token))
        if isinstance(v, ast.Literal):
            return v
        if isinstance(v, ast.Text):
            return ast.Literal(v.value, "string", text, span)
        if isinstance(v, ast.Budget):
            return ast.Literal(v.value, "duration" if v.kind == "time" else "tokens", text, span)
        assert isinstance(v, ast.Num)
        kind = "percent" if v.percent else ("int" if v.integer else "number")
        value: object = int(v.value) if v.integer else v.value
        return ast.Literal(value, kind, text, span)

    # -- protocols -----------------------------------------------------------

    def statuses(self, children: list[Any]) -> ast.Clause:
        return ast.Clause("statuses", self._values(children), self._span(children))

    def status_name(self, children: list[Any]) -> tuple[ast.Name, ast.Name]:
        key, value = self._values(children)
        return key, value

    def channel(self, children: list[Any]) -> ast.Block:
        vals = self._values(children)
        name = vals.pop(0)
        return ast.Block("channel", name, vals, self._span(children))

    def channel_name(self, children: list[Any]) -> ast.Name:
        (v,) = self._values(children)
        if isinstance(v, ast.Text):
            return ast.Name(v.value, v.span)
        return v  # type: ignore[no-any-return]

    def channel_member(self, children: list[Any]) -> ast.Name:
        (v,) = self._values(children)
        return v  # type: ignore[no-any-return]

    def handoff(self, children: list[Any]) -> ast.Block:
        vals = self._values(children)
        src, dst = vals[0], vals[1]
        return ast.Block("handoff", None, vals[2:], self._span(children), {"from": src, "to": dst})

    def create_by(self, children: list[Any]) -> ast.Clause:
        """``create [strategic|tactical] by A, ...``: the kind (or ``None``) and the actors."""
        vals = self._values(children)
        has_kind = isinstance(children[1], Token) and children[1].type == "TASK_KIND"
        kind = vals.pop(0) if has_kind else None
        return ast.Clause("create_by", (kind, vals), self._span(children))

    def role_handoff(self, children: list[Any]) -> ast.Block:
        """``handoff role A -> B {...}``: from one role to another, within a task's domain."""
        vals = self._values(children)
        src, dst = vals[0], vals[1]
        return ast.Block("handoff", None, vals[2:], self._span(children), {"from": src, "to": dst, "roles": True})

    def domain_ref(self, children: list[Any]) -> ast.Name:
        (v,) = self._values(children)
        return v  # type: ignore[no-any-return]

    def _pair_clause(self, kind: str, children: list[Any]) -> ast.Clause:
        src, dst = self._values(children)
        return ast.Clause(kind, (src, dst), self._span(children))

    def on_accept(self, children: list[Any]) -> ast.Clause:
        return self._pair_clause("on_accept", children)

    def on_reject(self, children: list[Any]) -> ast.Clause:
        return self._pair_clause("on_reject", children)

    # -- assignment, capacity ------------------------------------------------

    def weight(self, children: list[Any]) -> ast.Clause:
        return self._pair_clause("weight", children)

    def fit(self, children: list[Any]) -> ast.Clause:
        return ast.Clause("fit", self._values(children), self._span(children))

    def fit_item(self, children: list[Any]) -> tuple[ast.Name, ast.Name]:
        a, b = self._values(children)
        return a, b

    def band(self, children: list[Any]) -> ast.Clause:
        vals = self._values(children)
        action = vals[2] if len(vals) > 2 else None
        return ast.Clause("band", (vals[0], vals[1], action), self._span(children))

    def ic_limit(self, children: list[Any]) -> ast.Clause:
        return self._pair_clause("ic_limit", children)

    def sustained(self, children: list[Any]) -> ast.Clause:
        above, period, action = self._values(children)
        return ast.Clause("sustained", (above, period, action), self._span(children))

    def _action(self, kind: str, children: list[Any]) -> ast.Clause:
        vals = self._values(children)
        return ast.Clause(kind, vals[0] if vals else None, self._span(children))

    def notify(self, children: list[Any]) -> ast.Clause:
        return self._action("notify", children)

    def escalate_action(self, children: list[Any]) -> ast.Clause:
        return self._action("escalate", children)

    def refuse_new_work(self, children: list[Any]) -> ast.Clause:
        return self._action("refuse_new_work", children)

    # -- tiers, gates, metrics -----------------------------------------------

    def tier(self, children: list[Any]) -> ast.Block:
        vals = self._values(children)
        number = vals.pop(0)
        title = vals.pop(0) if vals and isinstance(vals[0], ast.Text) else None
        return ast.Block("tier", None, vals, self._span(children), {"number": number, "title": title})

    def role_step(self, children: list[Any]) -> ast.Step:
        vals = self._values(children)
        return ast.Step(vals[0], vals[1] if len(vals) > 1 else None, None, self._span(children))

    def gate_step(self, children: list[Any]) -> ast.Step:
        (name,) = self._values(children)
        return ast.Step(None, None, name, self._span(children))

    def planning(self, children: list[Any]) -> ast.Clause:
        vals = self._values(children)
        nums = [v for v in vals if isinstance(v, ast.Num)]
        unit = next((v for v in vals if isinstance(v, ast.Name)), None)
        low = nums[0]
        high = nums[1] if len(nums) > 1 else nums[0]
        return ast.Clause("planning", (low, high, unit), self._span(children))

    def guards_transition(self, children: list[Any]) -> ast.Clause:
        return self._pair_clause("transition", children)

    def guards_stage(self, children: list[Any]) -> ast.Clause:
        (name,) = self._values(children)
        return ast.Clause("stage", name, self._span(children))

    def applies_domain(self, children: list[Any]) -> ast.Clause:
        (names,) = self._values(children)
        return ast.Clause("applies", ("domain", names), self._span(children))

    def applies_label(self, children: list[Any]) -> ast.Clause:
        (names,) = self._values(children)
        return ast.Clause("applies", ("label", names), self._span(children))

    def gate_threshold(self, children: list[Any]) -> ast.Clause:
        vals = self._values(children)
        return ast.Clause("threshold", (vals[0], vals[1:]), self._span(children))

    def tier_value(self, children: list[Any]) -> tuple[ast.TierRange, ast.Num]:
        rng, num = self._values(children)
        return rng, num

    def outcome(self, children: list[Any]) -> ast.Clause:
        name, effect = self._values(children)
        return ast.Clause("outcome", (name, effect), self._span(children))

    def effect_pass(self, children: list[Any]) -> ast.Clause:
        return ast.Clause("pass", None, self._span(children))

    def effect_hold(self, children: list[Any]) -> ast.Clause:
        return ast.Clause("hold", None, self._span(children))

    def effect_move(self, children: list[Any]) -> ast.Clause:
        (target,) = self._values(children)
        return ast.Clause("move", target, self._span(children))

    def score(self, children: list[Any]) -> ast.Clause:
        names, low, high = self._values(children)
        return ast.Clause("score", (names, low, high), self._span(children))

    def score_band(self, children: list[Any]) -> ast.Clause:
        low, high, outcome = self._values(children)
        return ast.Clause("band", (low, high, outcome), self._span(children))

    def metric(self, children: list[Any]) -> ast.Block:
        vals = self._values(children)
        name = vals.pop(0)
        title = vals.pop(0) if isinstance(vals[0], ast.Text) else None
        measure, op, target = vals
        return ast.Block(
            "metric", name, [], self._span(children),
            {"title": title, "measure": measure, "op": op, "target": target},
        )

    def measure(self, children: list[Any]) -> ast.Clause:
        vals = self._values(children)
        return ast.Clause("measure", (vals[0], vals[1] if len(vals) > 1 else None), self._span(children))
