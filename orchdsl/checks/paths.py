"""Names that become paths (ORC114): every one follows the safe-name rule.

The compiler and the runtime turn some names of the spec into file and folder names:

- a role: its prompt ``agents/{role}.md``, and the inbox of the agent of the same name;
- an agent, ``{role}-{n}`` for a member with a count: its inbox
  ``Agent_Memory/_communication/inbox/{agent}/``;
- a domain: ``Agent_Memory/_system/capacity/{domain}/team.yaml``, its tactical task
  folders and the names of handoff files;
- a channel, after ``{domain}`` is replaced in a per-domain one:
  ``Agent_Memory/_communication/broadcast/{channel}/``;
- a standup: ``schemas/standup-{name}.schema.json``;
- a gate: the names of review and decision files written at run time.

States, skills, consultations, metrics and the org name never become paths. The rule
itself is the runtime's (``orchdsl_runtime.contract.names``), so the checker and the
runtime can never disagree about it.
"""

from __future__ import annotations

from collections.abc import Iterator

from orchdsl_runtime.contract.names import SAFE_NAME_RULE, name_problem

from orchdsl import model as m
from orchdsl.checks.graphs import Check, Graphs
from orchdsl.diagnostics import Diagnostics, Span

_WHERE = {
    "role": "agents/{}.md",
    "agent": "Agent_Memory/_communication/inbox/{}/",
    "domain": "Agent_Memory/_system/capacity/{}/team.yaml",
    "channel": "Agent_Memory/_communication/broadcast/{}/",
    "standup": "schemas/standup-{}.schema.json",
    "gate": "the review and decision files of the gate",
}


def _named(org: m.Organisation) -> Iterator[tuple[str, str, Span | None, str | None]]:
    """(kind, name, span, how the name came to be) for every name that becomes a path."""
    roles_ok: set[str] = set()
    for r in org.roles:
        yield "role", r.id, r.span, None
        if name_problem(r.id) is None:
            roles_ok.add(r.id)
    for d in org.domains:
        yield "domain", d.name, d.span, None
        for mem in d.members:
            if mem.count > 1 and mem.role in roles_ok:
                # the longest id is the last one; a safe role gives safe ids but for length
                yield "agent", f"{mem.role}-{mem.count}", mem.span, f"`{mem.role}` x{mem.count}"
    templates: set[str] = set()
    for ch in org.broadcast.channels:
        if ch.template is None:
            yield "channel", ch.name, ch.span, None
        elif ch.template not in templates and name_problem(ch.name) is not None:
            templates.add(ch.template)  # one report per template, for its first bad expansion
            yield "channel", ch.name, ch.span, f"`{ch.template}` for the domain `{ch.domain}`"
    for st in org.standups:
        yield "standup", st.name, st.span, None
    for g in org.gates:
        yield "gate", g.name, g.span, None


def check_path_names(org: m.Organisation, graphs: Graphs, diags: Diagnostics) -> None:
    for kind, name, span, origin in _named(org):
        problem = name_problem(name)
        if problem is None:
            continue
        what = f"the {kind} `{name}`" + (f" (from {origin})" if origin else "")
        diags.add(
            "ORC114", f"{what} cannot be a file name: {problem}", span,
            notes=[f"it becomes `{_WHERE[kind].format(name)}`" if "{}" in _WHERE[kind]
                   else f"it becomes part of {_WHERE[kind]}"],
            help=f"rename it; a name that becomes a path has {SAFE_NAME_RULE}",
        )


CHECKS: list[Check] = [check_path_names]
