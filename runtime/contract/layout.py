"""The Agent_Memory layout: every path of the tree, the YAML its files are written in, and how.

The compiler writes the configuration part of ``Agent_Memory/`` and tells each
agent where to read and write; the runtime writes the rest (tasks, notices,
protocol messages, reports, capacity) as a projection of its event log. Both
take every path from here.

- The ``*_FILE`` and folder templates are the documented form, with
  ``{placeholders}``; prompts and the protocol configuration show them as they
  are.
- ``path(template, **ids)`` fills a template for one file. Every id is checked
  against the one rule for names (``names.name_problem``) and every time part
  is computed from a number, so a filled path never leaves the tree and never
  holds a separator, ``..`` or a control character.
- ``yaml_text`` is the one YAML form of generated files (short lists of
  scalars and small ``Flow`` mappings on one line, no anchors); ``write_text``
  writes a file atomically.
"""

from __future__ import annotations

import functools
import os
import secrets
import string
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .names import name_problem

MEMORY = "Agent_Memory"
"""the tree's folder, in an output or a run directory"""

# -- configuration (written by the compiler) -------------------------------------------
STATE_MACHINE = "_system/config/task_state_machine.yaml"
PROTOCOLS = "_system/config/communication_protocols.yaml"
SYSTEM_WIDE = "_system/capacity/system_wide.yaml"
TAXONOMY = "_system/skills/skill_taxonomy.yaml"
CAPACITY_TEAM = "_system/capacity/{domain}/team.yaml"

# -- communication ----------------------------------------------------------------------
INBOX = "_communication/inbox/{recipient}/"
NOTICE_FILE = "_communication/inbox/{recipient}/{type}_{YYYYMMDD_HHMMSS}_{seq}.yaml"
DELEGATION_FILE = "_communication/inbox/{recipient}/delegation_{YYYYMMDD_HHMMSS}.yaml"
ACK_FILE = "_communication/inbox/{delegator}/acknowledgement_{YYYYMMDD_HHMMSS}.yaml"
CONSULTATION_FILE = "_communication/inbox/{recipient}/consultation_{YYYYMMDD_HHMMSS}.yaml"
BROADCAST_FILE = "_communication/broadcast/{channel}/announcement_{YYYYMMDD_HHMMSS}.yaml"
HANDOFF_FILE = "_communication/handoffs/{from_domain}_to_{to_domain}_{YYYYMMDD_HHMMSS}.yaml"
DAILY_FILE = "_communication/reports/daily/{from}_to_{to}_{YYYYMMDD}.yaml"
WEEKLY_FILE = "_communication/reports/weekly/{from}_to_{to}_week_{NN}.yaml"
PROTOCOL_ESCALATION_FILE = "_communication/escalations/E{seq}.yaml"

# -- per instruction ----------------------------------------------------------------------
STRATEGIC_PLAN = "{instruction_id}/workflow/strategic_plan.yaml"
STRATEGIC_TASK = "{instruction_id}/tasks/strategic/{task_id}.yaml"
TACTICAL_TASK = "{instruction_id}/tasks/tactical/{domain}/{task_id}.yaml"
TASKS = "{instruction_id}/tasks/"
OUTPUTS = "{instruction_id}/outputs/"
DECISIONS = "{instruction_id}/decisions/"
DECISION_FILE = "{instruction_id}/decisions/{task_id}_{gate}_{seq}.yaml"
REVIEWS = "{instruction_id}/reviews/"
REVIEW_FILE = "{instruction_id}/reviews/{gate}_{task_id}_{YYYYMMDD_HHMMSS}.yaml"
TASK_ESCALATION_FILE = "{instruction_id}/escalations/E{seq}_{task_id}.yaml"

NOTICE_TYPES = (
    "task_assigned", "assignment_escalated", "task_reassigned", "sla_warning", "sla_escalation",
    "heartbeat_missed", "handoff_created", "handoff_accepted", "handoff_rejected", "delegation_overdue",
    "clarification_recorded", "domain_capacity_escalated", "capacity_band", "notification",
)
"""the inbox messages written as notices (``NOTICE_FILE``): what happened to an agent's work"""
OWN_FILES = frozenset({
    "delegated", "delegation_acknowledged", "broadcast_sent", "standup_reported",
    "consultation_asked", "consultation_answered", "consultation_timed_out",
})
"""inbox messages whose content has a file of its own (delegation, acknowledgement,
broadcast, standup report, consultation question and answer) instead of a notice"""

_TIME_PARTS = {"YYYYMMDD_HHMMSS": "%Y%m%d_%H%M%S", "YYYYMMDD": "%Y%m%d"}
_NUMBER_PARTS = {"seq": "{:d}", "NN": "{:02d}"}


def fields(template: str) -> list[str]:
    """The placeholders of a template, in order."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def path(template: str, **parts: object) -> str:
    """A template filled for one file: ids checked against the rule for names,
    times (seconds since the epoch) and numbers formatted here. ``ValueError``
    when a part is missing, unknown or unsafe."""
    values: dict[str, str] = {}
    for name in fields(template):
        if name not in parts:
            raise ValueError(f"the path `{template}` needs `{name}`")
        value = parts[name]
        if name in _TIME_PARTS:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"`{name}` of `{template}` must be a time, not {value!r}")
            values[name] = datetime.fromtimestamp(value, UTC).strftime(_TIME_PARTS[name])
        elif name in _NUMBER_PARTS:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"`{name}` of `{template}` must be a whole number, not {value!r}")
            values[name] = _NUMBER_PARTS[name].format(value)
        else:
            problem = name_problem(value)
            if problem is not None:
                raise ValueError(f"`{name}` of `{template}` is unusable as a file name: {problem}")
            values[name] = str(value)
    extra = set(parts) - set(values)
    if extra:
        raise ValueError(f"the path `{template}` has no {', '.join(sorted(extra))}")
    return template.format(**values)


# -- YAML --------------------------------------------------------------------------------


class Flow(dict[str, Any]):
    """A small mapping written on one line: ``{text: 4h, kind: time, value: 14400}``."""


def yaml_text(data: object) -> str:
    """``data`` as YAML in the one form of generated files; keys keep their order."""
    import yaml

    text: str = yaml.dump(data, Dumper=dumper(), sort_keys=False, allow_unicode=True,
                          default_flow_style=False, width=100)
    return text


@functools.cache
def dumper(pure: bool = False) -> type[Any]:
    """The YAML dumper: libyaml's emitter when present (it writes the same bytes as the
    pure-Python one for everything generated, ten times faster); ``pure`` forces the latter."""
    import yaml

    base: type[Any] = yaml.SafeDumper if pure or not hasattr(yaml, "CSafeDumper") else yaml.CSafeDumper

    def represent_list(d: Any, data: list[Any]) -> Any:
        # a short list of scalars reads best on one line: `tiers: [1, 2, 3, 4]`
        flat = all(isinstance(x, str | int | float | bool) for x in data)
        flow = flat and len(data) <= 12 and sum(len(str(x)) + 2 for x in data) <= 80
        return d.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)

    def represent_flow(d: Any, data: Flow) -> Any:
        return d.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=True)

    class Dumper(base):  # type: ignore[misc,valid-type]
        """No anchors: a repeated list is written out again."""

        def ignore_aliases(self, data: Any) -> bool:
            return True

    Dumper.add_representer(list, represent_list)
    Dumper.add_representer(tuple, represent_list)
    Dumper.add_representer(Flow, represent_flow)
    return Dumper


# -- writing -----------------------------------------------------------------------------


def write_text(path: Path, text: str, tmp_dir: Path | None = None) -> None:
    """Write ``text`` to ``path`` atomically: a reader sees the old file or the new one,
    never half of one. The temporary file is made in ``tmp_dir`` (default: beside the
    file; it must be on the same file system) and removed if anything fails; the file gets
    the permissions the process's umask gives new files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = tmp_dir if tmp_dir is not None else path.parent
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = str(folder / f".{path.name[:40]}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
