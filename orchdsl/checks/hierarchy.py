"""Checks of the reporting hierarchy and of domain membership (ORC2xx).

Also home of the hierarchy facts other check modules share: the set of roles
above each role (computed once, in linear time) and the test for entities
that lowering could not resolve.
"""

from __future__ import annotations

from orchdsl import model as m
from orchdsl.checks.digraph import simple_cycles
from orchdsl.checks.graphs import Check, Graphs
from orchdsl.diagnostics import Diagnostics, Label, Span


def label(span: Span | None, message: str) -> list[Label]:
    """A secondary span, when there is one to point at."""
    return [Label(span, message)] if span is not None else []


def broken_roles(g: Graphs) -> frozenset[str]:
    """Roles whose `reports_to` lowering could not resolve: where they sit is unknown."""
    return frozenset(r for r in g.roles if g.broken("role", r))


def known_roots(g: Graphs) -> list[str]:
    """The roles that report to nobody, less those whose `reports_to` was unknown."""
    return [r for r in g.roots if not g.broken("role", r)]


def ancestor_sets(g: Graphs) -> dict[str, frozenset[str]]:
    """For each role, the roles above it. A role on a cycle (or below one) gets
    the roles it reaches before the cycle closes."""
    # cached on the Graphs object, which lives as long as one run of the checks
    cache = g.__dict__.get("_ancestor_sets")
    if isinstance(cache, dict):
        return cache
    out: dict[str, frozenset[str]] = {}
    for start in g.roles:
        if start in out:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        node: str | None = start
        while node is not None and node in g.roles and node not in out and node not in on_path:
            path.append(node)
            on_path.add(node)
            node = g.roles[node].reports_to
        if node is not None and node in on_path:
            # a cycle: every role from `node` on sees the cycle's other roles
            i = path.index(node)
            cycle = frozenset(path[i:])
            for r in path[i:]:
                out[r] = cycle - {r}
            path = path[:i]
            above = cycle
        elif node is not None and node in out:
            above = out[node] | {node}
        else:
            above = frozenset()
        for r in reversed(path):
            out[r] = above
            above = above | {r}
    g.__dict__["_ancestor_sets"] = out
    return out


def detached(g: Graphs) -> frozenset[str]:
    """Roles whose chain of `reports_to` does not reach the top: below a second
    root (ORC203), on or below a cycle (ORC201), or below an unknown role.
    Checks that follow the hierarchy say nothing about them: where they sit is
    already reported."""
    cache = g.__dict__.get("_detached")
    if isinstance(cache, frozenset):
        return cache
    tops = frozenset(top_roles(g))
    above = ancestor_sets(g)
    out = frozenset(r for r in g.roles if r not in tops and (not tops or not tops & above[r]))
    g.__dict__["_detached"] = out
    return out


def declared_top(g: Graphs) -> list[str] | None:
    """The roles the org declares at the top (`top a, b`: peers), or None when it declares none."""
    top = g.org.org.top
    return None if top is None else [r for r in top if r in g.roles]


def top_roles(g: Graphs) -> list[str]:
    """The roles at the top: those declared (peers when several), else the main root."""
    declared = declared_top(g)
    if declared is not None:
        return declared
    top = main_root(g)
    return [top] if top is not None else []


def main_root(g: Graphs) -> str | None:
    """The role at the top: the only root, or of several the one with most roles below it."""
    roots = known_roots(g)
    if len(roots) <= 1:
        return roots[0] if roots else None
    below: dict[str, int] = dict.fromkeys(roots, 0)
    for above in ancestor_sets(g).values():
        for r in above:
            if r in below:
                below[r] += 1
    return max(roots, key=lambda r: (below[r], -roots.index(r)))


def member_roles(org: m.Organisation) -> dict[str, list[tuple[m.Domain, m.Member]]]:
    """Each member role, with the domains (and member entries) it appears in."""
    out: dict[str, list[tuple[m.Domain, m.Member]]] = {}
    for d in org.domains:
        for mem in d.members:
            out.setdefault(mem.role, []).append((d, mem))
    return out


def lead_roles(org: m.Organisation, g: Graphs) -> dict[str, list[m.Domain]]:
    """Each role that leads a domain, with the domains it leads."""
    out: dict[str, list[m.Domain]] = {}
    for d in org.domains:
        if d.lead in g.roles:
            out.setdefault(d.lead, []).append(d)
    return out


# ---------------------------------------------------------------- checks


def check_hierarchy(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC201 cycles, ORC202 no root, ORC203 several roots (or a root not declared at the top),
    ORC208 a role declared at the top that reports to someone."""
    for cycle in sorted(simple_cycles(g.hierarchy), key=lambda c: sorted(c)):
        first = min(cycle)
        i = cycle.index(first)
        ordered = cycle[i:] + cycle[:i]
        role = g.roles[first]
        chain = " -> ".join([*ordered, first])
        labels = [lb for r in ordered[1:]
                  for lb in label(g.roles[r].span, f"`{r}` reports to `{g.roles[r].reports_to}`")]
        diags.add("ORC201", f"roles report to each other in a cycle: {chain}", role.span,
                  labels=labels, help="one role of the cycle must report to someone outside it")
    if not org.roles:
        return
    declared = declared_top(g)
    if declared is not None:
        _check_declared_top(org, g, declared, diags)
    elif not g.roots:
        diags.add("ORC202", "no role is at the top of the hierarchy", org.org.span,
                  help="remove `reports_to` from the role at the top")
    elif len(known_roots(g)) > 1:
        top = main_root(g)
        assert top is not None
        leads = lead_roles(org, g)
        members = member_roles(org)
        for rid in g.roots:
            if rid == top or g.broken("role", rid):
                continue
            if rid in members and rid not in leads and members[rid][0][0].lead in g.roles:
                continue  # an IC that reports to nobody: ORC205 names the lead it should report to
            r = g.roles[rid]
            notes = ["an organisation has exactly one role at the top"]
            if rid in leads:
                notes.append(f"`{rid}` leads domain `{leads[rid][0].name}`, "
                             "whose lead must answer to the top")
            diags.add("ORC203", f"role `{rid}` reports to nobody", r.span,
                      labels=label(g.roles[top].span, f"`{top}` is also at the top"),
                      notes=notes,
                      help=f"add `reports_to {top}` or to whoever `{rid}` answers to")


def _check_declared_top(org: m.Organisation, g: Graphs, declared: list[str], diags: Diagnostics) -> None:
    """ORC208 a role declared at the top reports to someone; ORC203 a role that reports to
    nobody is not declared at the top."""
    spans = org.org.top_spans
    for rid in declared:
        r = g.roles[rid]
        if r.reports_to is not None:
            diags.add("ORC208", f"`{rid}` is declared at the top but reports to `{r.reports_to}`",
                      spans.get(rid) or r.span, labels=label(r.span, f"`{rid}` reports to `{r.reports_to}`"),
                      notes=["the roles at the top report to nobody; several of them are peers"],
                      help=f"remove `reports_to {r.reports_to}` from `{rid}`, or `{rid}` from `top`")
    first = declared[0] if declared else None
    leads = lead_roles(org, g)
    members = member_roles(org)
    for rid in g.roots:
        if rid in declared or g.broken("role", rid):
            continue
        if rid in members and rid not in leads and members[rid][0][0].lead in g.roles:
            continue  # an IC that reports to nobody: ORC205 names the lead it should report to
        listed = ", ".join(f"`{x}`" for x in declared)
        diags.add("ORC203", f"role `{rid}` reports to nobody and is not declared at the top",
                  g.roles[rid].span,
                  labels=label(spans.get(first) if first else None, f"the top is {listed}"),
                  notes=["the roles at the top are the ones `top` lists"],
                  help=f"add `reports_to` to `{rid}`, or list it in `top`")


def check_leads(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC204: each domain lead's chain reaches the top, through no IC."""
    tops = top_roles(g)
    if not tops:
        return
    top = " or ".join(f"`{t}`" for t in tops)
    above = ancestor_sets(g)
    members = member_roles(org)
    leads = lead_roles(org, g)
    for lead, domains in leads.items():
        if lead in tops or g.broken("role", lead):
            continue
        role = g.roles[lead]
        if role.reports_to is None:
            continue  # a root of its own: ORC203 says so
        chain = g.ancestors(lead)
        end = chain[-1]
        if g.roles[end].reports_to is not None or g.broken("role", end):
            continue  # the chain runs into a cycle (ORC201) or an unknown role (ORC102)
        dom = domains[0]
        lead_label = [Label(dom.span, f"`{lead}` leads domain `{dom.name}`")] if dom.span else []
        ic = next((r for r in chain if r in members and r not in leads), None)
        if ic is not None:
            ic_dom = members[ic][0][0].name
            how = "reports to" if chain[0] == ic else "reports through"
            diags.add("ORC204", f"domain lead `{lead}` {how} `{ic}`, an IC of domain `{ic_dom}`",
                      role.span, labels=lead_label,
                      notes=[f"the chain above `{lead}`: " + " -> ".join(chain)],
                      help=f"make `{lead}` report to a role on the chain to {top}, not to an IC")
        elif not set(tops) & above[lead]:
            end_role = g.roles[end]
            labels = list(lead_label)
            if end_role.span:
                labels.append(Label(end_role.span, f"the chain stops at `{end}`, which reports to nobody"))
            diags.add("ORC204", f"domain lead `{lead}` does not reach {top}, the top of the hierarchy",
                      role.span, labels=labels,
                      notes=[f"the chain above `{lead}`: " + " -> ".join(chain)],
                      help=f"make `{end}` report to {top} or to a role below it")


def check_membership(org: m.Organisation, g: Graphs, diags: Diagnostics) -> None:
    """ORC205 member not under the lead, ORC206 several domains, ORC207 a lead listed as a member
    of another domain, or of its own with a count (a lead that works in its own domain is one of
    its members)."""
    leads = lead_roles(org, g)
    for rid, places in member_roles(org).items():
        if rid not in g.roles or g.broken("role", rid):
            continue
        role = g.roles[rid]
        if rid in leads:
            for d, mem in places:
                led = leads[rid][0]
                labels = [Label(led.span, f"`{rid}` leads `{led.name}`")] if led.span else []
                if led.name != d.name:
                    diags.add("ORC207", f"`{rid}` leads a domain and is listed as a member of domain `{d.name}`",
                              _span(mem, d), labels=labels,
                              help=f"remove `member {rid}`: a lead works only in the domain it leads")
                elif mem.count > 1:
                    diags.add("ORC207", f"`{rid}` leads `{d.name}` and works in it as one agent, not {mem.count}",
                              _span(mem, d), labels=labels,
                              help=f"remove the count from `member {rid}`")
            continue
        # the domain whose lead the role reports to is its own; the others are extra
        home = next((i for i, (d, _) in enumerate(places) if d.lead == role.reports_to), 0)
        first_dom, first_mem = places[home]
        for d, mem in places[:home] + places[home + 1:]:
            labels = label(first_mem.span, f"a member of `{first_dom.name}` here")
            diags.add("ORC206", f"role `{rid}` is a member of `{d.name}` and of `{first_dom.name}`",
                      _span(mem, d), labels=labels,
                      notes=["a role belongs to at most one domain"],
                      help=f"declare a separate role for the ICs of `{d.name}`")
        lead = first_dom.lead
        if lead not in g.roles or role.reports_to == lead:
            continue
        if role.reports_to is None:
            what = f"`{rid}` reports to nobody"
        else:
            what = f"`{rid}` reports to `{role.reports_to}`"
        labels = [Label(role.span, what)] if role.span else []
        diags.add("ORC205", f"member `{rid}` of domain `{first_dom.name}` does not report to its lead `{lead}`",
                  _span(first_mem, first_dom), labels=labels,
                  help=f"set `reports_to {lead}` on role `{rid}`")


def _span(mem: m.Member, d: m.Domain) -> Span | None:
    return mem.span or d.span


CHECKS: list[Check] = [
    check_hierarchy,
    check_leads,
    check_membership,
]
