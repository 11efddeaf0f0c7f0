"""The runtime's commands, declared once: every adapter is a loop over ``COMMANDS``.

A command is data: its name, what it does, the engine method (or view) it
calls, its typed parameters with help text and defaults, whether it acts as an
agent (``--as``), whether it writes, and who may issue it. The ``orchdsl run``
argument parser, the scenario steps and their JSON Schema, the MCP tools and
the command lists of agent prompts are all generated from this table; adding a
command is an engine method, a row here, a fold handler for its event and a
test.

Names: ``name`` is the command's one name (the MCP tool, the scenario step,
``snake_case``); ``cli`` is how ``orchdsl run`` spells it (``task create``);
``aliases`` are older scenario keys that still work. A parameter's ``name`` is
its key in scenarios and MCP arguments; the CLI spells it ``--name-with-dashes``
unless it is positional or has a ``flag``; ``arg`` is the engine's keyword
when it differs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from .model import COMPLEXITIES, KINDS

Kind = Literal[
    "text",      # a free text
    "words",     # a free text, given on the command line as several words
    "id",        # the id of something that exists (a task, an agent, a gate, a state)
    "ids",       # several ids or texts; on the command line repeated or comma-separated
    "texts",     # several free texts; on the command line repeated
    "int",       # a whole number
    "flag",      # true or false; on the command line present or absent
    "choice",    # one of ``choices``
    "hours",     # a duration (30m, 4h, 1.5d) taken as hours
    "seconds",   # a duration taken as seconds
    "time",      # an ISO 8601 time, taken as seconds since the epoch
    "tokens",    # a token count (12000, 12K, 1.2M)
    "estimate",  # estimates (6h, 50K): gives the engine's estimate_hours and estimate_tokens
    "scores",    # CATEGORY=N pairs, or a mapping of whole numbers
    "measures",  # CRITERION=X pairs (X may be a percentage), or a mapping of numbers
]


@dataclass(frozen=True, slots=True)
class Param:
    """A parameter of a command."""

    name: str
    kind: Kind
    help: str
    required: bool = False
    default: Any = None
    positional: bool = False
    """on the command line by position rather than as an option"""
    flag: str | None = None
    """the command-line option, when not ``--name``"""
    arg: str | None = None
    """the engine's keyword argument, when not ``name``"""
    choices: tuple[str, ...] = ()
    metavar: str | None = None
    me: bool = False
    """the calling agent when an agent calls the command itself (an MCP tool): filled in, not asked"""

    @property
    def keyword(self) -> str:
        return self.arg or self.name

    @property
    def option(self) -> str:
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def many(self) -> bool:
        return self.kind in ("ids", "texts", "estimate")


class Who(StrEnum):
    """Who may issue a command, as the engine checks it (``roles.may_issue`` tells which roles
    of a model that is)."""

    ANYONE = "anyone"
    """any agent (and, where ``human`` is set, a person from outside)"""
    TRANSITION_ACTOR = "transition-actor"
    """an actor of some transition of the lifecycle"""
    ASSIGNER = "assigner"
    """an actor of the transition assignment makes (the first from the task's state into a state
    owned by ``@assignee``), before the assignee is set and with it"""
    ASSIGNEE = "assignee"
    """a member of a domain, on the tasks assigned to it"""
    MEMBER = "member"
    """the task's assignee; before assignment, a member of the task's domain"""
    TASK_GATE_REVIEWER = "task-gate-reviewer"
    """the reviewer of a gate that guards a transition of the lifecycle"""
    DOMAIN_LEAD = "domain-lead"
    """the lead of the task's domain"""
    HANDOFF_SENDER = "handoff-sender"
    """the lead of a domain a handoff is declared from; for a handoff between roles, the task's
    assignee of the handing role (or its domain's lead, when that is the handing role)"""
    HANDOFF_TICKER = "handoff-ticker"
    """the lead of the handing domain, or the task's assignee"""
    HANDOFF_ACCEPTOR = "handoff-acceptor"
    """the role a handoff names as its acceptor, when an actor of its ``on accept`` transition"""
    HANDOFF_REJECTOR = "handoff-rejector"
    """the acceptor of a handoff that declares a rejection path, when an actor of that transition"""
    DELEGATOR = "delegator"
    """a link of the delegation chain with a link below it"""
    DELEGATE = "delegate"
    """a link of the delegation chain with a link above it"""
    CONSULT_ASKER = "consult-asker"
    """the asker a consultation names"""
    CONSULT_ANSWERER = "consult-answerer"
    """whom a consultation is put to"""
    CHANNEL_SENDER = "channel-sender"
    """a member of a channel, or an ancestor of all its members"""
    STAGE_ACTOR = "stage-actor"
    """the actor of a stage of a tier's flow"""
    STAGE_GATE_REVIEWER = "stage-gate-reviewer"
    """the reviewer of a gate that guards a stage (``@lead``: any domain lead, ``@member``: any member)"""
    DEFECT_RECORDER = "defect-recorder"
    """a domain lead or a gate reviewer"""
    STAFF = "staff"
    """a staff role (not a domain lead or member)"""
    SUBMITTER = "submitter"
    """whom the spec's ``submit by`` names; without it, any agent"""
    TASK_CREATOR = "task-creator"
    """whom the spec's ``create by`` names for the task's kind (``@lead``, ``@member``: of the
    task's domain); without it, any agent"""
    CLOSER = "closer"
    """whom the spec's ``close by`` names; without it, the actor of the tier's ``close`` step, the
    roles at the top of the hierarchy and the staff roles"""
    OPERATOR = "operator"
    """whoever runs the runtime: no agent"""


@dataclass(frozen=True, slots=True)
class Command:
    """One runtime command."""

    name: str
    summary: str
    method: str
    """the engine's method (or, for a view, the function of ``views``)"""
    params: tuple[Param, ...] = ()
    cli: tuple[str, ...] = ()
    acts: bool = True
    """takes the acting agent (``--as``)"""
    writes: bool = True
    who: Who = Who.ANYONE
    human: bool = False
    """``human`` (someone outside the organisation) may issue it too"""
    returns: str | None = None
    """the key under which the id of what it creates is returned"""
    done: str = ""
    """what the command line says when it is done (a template over the parameters and ``returns``)"""
    view: bool = False
    """a read-only view computed from the state, not an engine command (one that acts is about the agent)"""
    aliases: tuple[str, ...] = ()

    @property
    def words(self) -> tuple[str, ...]:
        return self.cli or (self.name,)

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)


def _id(name: str, help: str, **kw: Any) -> Param:
    return Param(name, "id", help, **kw)


TASK = _id("task", "the task", required=True, positional=True)
ATTEST = Param("attest", "ids", "requirements of the target state this move vouches for", metavar="ITEM")
INSTRUCTION = _id("instruction", "the instruction", required=True, positional=True)
NOTE = Param("note", "text", "a note")
SCORES = Param("scores", "scores", "a score per category (the total picks the outcome)", flag="--score",
               metavar="CATEGORY=N")

COMMANDS: tuple[Command, ...] = (
    # -- instructions and tasks -----------------------------------------------------------
    Command("submit", "submit an instruction at a tier", "submit_instruction", (
        Param("text", "words", "what is asked", required=True, positional=True),
        Param("tier", "int", "the tier the instruction is routed to", required=True),
        _id("id", "the instruction's id (default I1, I2, ...)"),
    ), who=Who.SUBMITTER, human=True, returns="instruction", done="submitted {instruction} (tier {tier})"),
    Command("task_create", "create a task of an instruction", "create_task", (
        _id("instruction", "the instruction the task belongs to", required=True),
        Param("kind", "choice", "strategic or tactical", default="tactical", choices=KINDS),
        _id("domain", "the domain that does the work", required=True),
        Param("title", "text", "the task's name", required=True),
        Param("description", "text", "what the work is, in a sentence or a paragraph", default=""),
        Param("acceptance_criteria", "texts", "an acceptance criterion (one per use)", flag="--criterion",
              metavar="TEXT"),
        Param("skills", "ids", "skills the task requires", arg="required_skills", metavar="SKILL"),
        Param("nice", "ids", "skills that help", arg="nice_skills", metavar="SKILL"),
        Param("complexity", "choice", "the task's complexity", default="moderate", choices=COMPLEXITIES),
        Param("priority", "text", "the task's priority, one the spec declares (default: the middle one, "
                                  "normal of the default list)"),
        Param("estimate", "estimate", "the estimate in hours (6h, 1.5d) and/or tokens (50K)", metavar="6h|50K"),
        Param("depends", "ids", "tasks that must finish first", arg="dependencies", metavar="TASK"),
        _id("parent", "the strategic task a tactical task belongs to", metavar="ST"),
        _id("handoff_to", "the domain the task is handed to when done", metavar="DOMAIN"),
        _id("id", "the task's id (default ST{n} or TT{st}.{n})"),
    ), cli=("task", "create"), who=Who.TASK_CREATOR, returns="task", done="created {task}",
        aliases=("create_task",)),
    Command("assign", "assign a task (to the best candidate, or to a named member)", "assign", (
        TASK, _id("to", "the member to assign (default: the best eligible candidate)", arg="agent",
                  metavar="AGENT"),
    ), who=Who.ASSIGNER, done="assigned {task}"),
    Command("move", "move a task to a state along a declared transition", "move", (
        TASK, _id("to", "the target state", required=True, positional=True, arg="target", metavar="STATE"), ATTEST,
    ), who=Who.TRANSITION_ACTOR, done="moved {task} to {to}"),
    Command("heartbeat", "report progress on a task you are assigned", "heartbeat", (
        TASK,
        Param("tokens", "tokens", "tokens spent since the last report (12000, 12K)", default=0.0, metavar="N"),
        NOTE,
        Param("remaining", "hours", "the remaining estimate (3h)", arg="remaining_hours", metavar="DURATION"),
        Param("actual", "hours", "hours worked on the task so far (5h)", arg="actual_hours", metavar="DURATION"),
    ), who=Who.ASSIGNEE, done="heartbeat on {task}"),
    Command("gate", "decide a gate that guards a transition out of the task's state", "decide_gate", (
        TASK, _id("gate", "the gate", required=True, positional=True),
        _id("outcome", "the outcome (or give scores)", positional=True),
        SCORES,
        Param("measures", "measures", "a measure per criterion (0.85 or 85%)", flag="--measure",
              metavar="CRITERION=X"),
    ), who=Who.TASK_GATE_REVIEWER, done="decided {gate} on {task}"),
    Command("reassign", "move an assigned task to another member of its domain", "reassign", (
        TASK, _id("to", "the member (default: the best other candidate)", metavar="AGENT"),
    ), who=Who.DOMAIN_LEAD, done="reassigned {task}"),
    # -- protocols ---------------------------------------------------------------------------
    Command("handoff_create", "hand a task over to another domain, or to another role", "create_handoff", (
        TASK, _id("to", "the receiving domain (default: the task's handoff_to)", arg="to_domain", metavar="DOMAIN"),
        _id("role", "the receiving role, for a handoff between roles", arg="to_role", metavar="ROLE"),
        Param("summary", "text", "what is handed over", required=True),
        Param("artifacts", "ids", "what comes with it", flag="--artifact", metavar="NAME"),
    ), cli=("handoff", "create"), who=Who.HANDOFF_SENDER, returns="handoff", done="created handoff {handoff}",
        aliases=("handoff",)),
    Command("handoff_tick", "tick checklist items of an open handoff", "tick_handoff", (
        _id("handoff", "the handoff", required=True, positional=True),
        Param("items", "texts", "the checklist items", required=True, positional=True, metavar="ITEM"),
    ), cli=("handoff", "tick"), who=Who.HANDOFF_TICKER, done="ticked {handoff}", aliases=("tick",)),
    Command("handoff_accept", "accept a handoff: the task makes the handoff's `on accept` move", "accept_handoff", (
        _id("handoff", "the handoff", required=True, positional=True), ATTEST,
    ), cli=("handoff", "accept"), who=Who.HANDOFF_ACCEPTOR, done="accepted {handoff}", aliases=("accept_handoff",)),
    Command("handoff_reject", "send a handoff back: the `on reject` move", "reject_handoff", (
        _id("handoff", "the handoff", required=True, positional=True),
        Param("reason", "text", "why", required=True), ATTEST,
    ), cli=("handoff", "reject"), who=Who.HANDOFF_REJECTOR, done="rejected {handoff}", aliases=("reject_handoff",)),
    Command("delegate", "delegate work one hop down the chain", "delegate", (
        _id("to", "the agent below you", required=True, metavar="AGENT"),
        Param("subject", "text", "what is delegated", required=True),
        Param("message", "text", "details", default=""),
        Param("priority", "text", "a priority the spec declares (default: the middle one, normal of the "
                                  "default list)"),
        _id("instruction", "the instruction it is about"),
        _id("task", "the task it is about"),
    ), who=Who.DELEGATOR, returns="delegation", done="delegated {delegation}"),
    Command("ack", "acknowledge a delegation: accept it, or decline", "acknowledge", (
        _id("delegation", "the delegation", required=True, positional=True),
        Param("decline", "flag", "decline instead of accepting", default=False),
        Param("notes", "text", "notes for the delegator", default=""),
    ), who=Who.DELEGATE, done="acknowledged {delegation}", aliases=("acknowledge",)),
    Command("consult", "ask a declared consultation", "consult", (
        _id("consultation", "the consultation (its name in the spec)", required=True, positional=True,
            metavar="NAME"),
        Param("question", "text", "the question", required=True),
        _id("instruction", "the instruction it is about"),
        _id("task", "the task it is about"),
    ), who=Who.CONSULT_ASKER, returns="consultation", done="asked {consultation}"),
    Command("answer", "answer an open consultation put to you", "answer_consultation", (
        _id("consultation", "the consultation (its id, C1, ...)", required=True, positional=True, metavar="ID"),
        Param("answer", "text", "the answer", required=True),
    ), who=Who.CONSULT_ANSWERER, done="answered {consultation}"),
    Command("broadcast", "send an announcement to a channel", "broadcast", (
        _id("channel", "the channel", required=True, positional=True),
        _id("kind", "the kind of announcement (one the spec declares)", required=True),
        Param("priority", "text", "a priority the spec declares (default: the middle one, normal of the "
                                  "default list)"),
        Param("subject", "text", "the subject", required=True),
        Param("message", "text", "the message", default=""),
    ), who=Who.CHANNEL_SENDER, done="broadcast on {channel}"),
    Command("standup_schedule", "start the cadence of standups (all by default)", "schedule_standups", (
        Param("names", "ids", "the standups", positional=True, arg="standups", metavar="STANDUP"),
    ), cli=("standup", "schedule"), who=Who.STAFF, human=True, done="standups scheduled"),
    Command("standup_generate", "every standup's reports now", "generate_standups",
            cli=("standup", "generate"), acts=False, who=Who.OPERATOR, done="standups generated",
            aliases=("standups",)),
    # -- instruction flows --------------------------------------------------------------------
    Command("instruction_stage", "record that a stage of the instruction's flow ran", "run_stage", (
        INSTRUCTION, _id("stage", "the stage", required=True, positional=True),
    ), cli=("instruction", "stage"), who=Who.STAGE_ACTOR, done="stage {stage} of {instruction} ran",
        aliases=("stage",)),
    Command("instruction_gate", "decide a stage gate of the instruction (risk assessment, go/no-go)",
            "decide_instruction_gate", (
                INSTRUCTION, _id("gate", "the gate", required=True, positional=True),
                _id("outcome", "the outcome (or give scores)", positional=True), SCORES,
            ), cli=("instruction", "gate"), who=Who.STAGE_GATE_REVIEWER, done="decided {gate} on {instruction}"),
    Command("instruction_close", "close the instruction", "close_instruction", (INSTRUCTION,),
            cli=("instruction", "close"), who=Who.CLOSER, human=True, done="closed {instruction}",
            aliases=("close",)),
    # -- measures -------------------------------------------------------------------------------
    Command("record_clarification", "record that a task needed a clarification", "record_clarification",
            (TASK, NOTE), cli=("record", "clarification"), who=Who.MEMBER, done="recorded a clarification on {task}",
            aliases=("clarification",)),
    Command("record_defect", "record a defect found in a task's work", "record_defect", (TASK, NOTE),
            cli=("record", "defect"), who=Who.DEFECT_RECORDER, done="recorded a defect on {task}",
            aliases=("defect",)),
    # -- the clock ----------------------------------------------------------------------------
    Command("clock_advance", "advance a virtual clock by a duration and fire what falls due", "advance", (
        Param("amount", "seconds", "how far (4h, 1d)", required=True, positional=True, arg="seconds"),
    ), cli=("clock", "advance"), acts=False, who=Who.OPERATOR),
    Command("clock_to", "advance a virtual clock to a time and fire what falls due", "advance_to", (
        Param("time", "time", "the time (ISO 8601)", required=True, positional=True),
    ), cli=("clock", "to"), acts=False, who=Who.OPERATOR),
    Command("clock_process", "fire what is due now", "process_clock", cli=("clock", "process"), acts=False,
            who=Who.OPERATOR, aliases=("process",)),
    # -- the dispatcher ---------------------------------------------------------------------
    Command("agent_launch", "record that an agent was started for a waiting item", "record_launch", (
        Param("key", "text", "the item's key (`orchdsl run work` lists them)", required=True, positional=True),
        _id("agent", "the agent started", required=True),
        _id("kind", "the item's kind", required=True),
        _id("id", "the id of the task, handoff, delegation or consultation", required=True),
        _id("task", "the task the item is about"),
    ), cli=("agent", "launch"), acts=False, who=Who.OPERATOR, done="launch of {agent} for {key} recorded"),
    Command("agent_exit", "record how an agent started for an item ended", "record_exit", (
        Param("key", "text", "the item's key", required=True, positional=True),
        Param("code", "int", "the exit status"),
        Param("reason", "choice", "how it ended", required=True, choices=("done", "failed", "timeout", "stopped")),
    ), cli=("agent", "exit"), acts=False, who=Who.OPERATOR, done="exit for {key} recorded"),
    # -- views ----------------------------------------------------------------------------------
    Command("status", "tasks by state, SLA clocks, escalations, utilisation", "status", acts=False,
            writes=False, view=True),
    Command("inbox", "an agent's inbox: the notices and messages sent to it", "inbox", (
        _id("agent", "the agent", required=True, positional=True, me=True),
    ), acts=False, writes=False, view=True),
    Command("work", "what waits for you: tasks you may move, gates you review, handoffs, delegations and "
            "consultations to answer", "work", writes=False, view=True),
    Command("moves", "the moves out of a task's state, and whether you may make each now (and why not)", "moves",
            (TASK,), writes=False, view=True),
    Command("show", "one task with its history", "show", (TASK,), acts=False, writes=False, view=True),
    Command("instruction_show", "an instruction's flow as data", "instruction_show", (INSTRUCTION,),
            cli=("instruction", "show"), acts=False, writes=False, view=True),
    Command("log", "the event log (or check that it replays)", "log", (
        Param("verify", "flag", "replay the log and compare it with the state and the projection", default=False),
        Param("after", "int", "only events after this sequence number", default=0, metavar="SEQ"),
    ), acts=False, writes=False, view=True),
    Command("report", "tasks per state, SLAs, escalations, utilisation, success metrics", "report",
            acts=False, writes=False, view=True),
    Command("clock_show", "the time", "clock_show", cli=("clock", "show"), acts=False, writes=False, view=True),
)
"""every runtime command"""

BY_NAME: dict[str, Command] = {c.name: c for c in COMMANDS}
BY_STEP: dict[str, Command] = {key: c for c in COMMANDS for key in (c.name, *c.aliases)}
"""a scenario step's key (the name or an older alias) -> its command"""


# -- JSON Schemas of the arguments (scenario steps, MCP tools) -------------------------------

_NUMBER = r"[0-9]+(\.[0-9]+)?"


def _units(units: Iterable[str]) -> str:
    return "(" + "|".join(sorted(str(u) for u in units)) + ")"


def param_schema(p: Param) -> dict[str, Any]:
    """The JSON Schema of one parameter's value, as scenarios and tool calls give it."""
    from .budgets import TIME_UNITS, TOKEN_UNITS

    duration = {"type": "string", "pattern": f"^{_NUMBER}{_units(TIME_UNITS)}$"}
    budget = {"type": "string", "pattern": f"^{_NUMBER}{_units([*TIME_UNITS, *TOKEN_UNITS])}$"}
    ident = {"type": "string", "minLength": 1}
    kind = p.kind
    if kind in ("text", "words"):
        schema: dict[str, Any] = {"type": "string"}
    elif kind == "id":
        schema = dict(ident)
    elif kind in ("ids", "texts"):
        schema = {"anyOf": [ident, {"type": "array", "items": ident}]}
    elif kind == "int":
        schema = {"type": "integer"}
    elif kind == "flag":
        schema = {"type": "boolean"}
    elif kind == "choice":
        schema = {"enum": list(p.choices)}
    elif kind in ("hours", "seconds"):
        schema = duration
    elif kind == "time":
        schema = {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?"
                                                r"(Z|[+-][0-9]{2}:?[0-9]{2})?$"}
    elif kind == "tokens":
        schema = {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": f"^{_NUMBER}[KM]?$"}]}
    elif kind == "estimate":
        schema = {"anyOf": [budget, {"type": "array", "items": budget, "maxItems": 2}]}
    elif kind == "scores":
        schema = {"type": "object", "additionalProperties": {"type": "integer"}}
    else:  # measures
        schema = {"type": "object", "additionalProperties": {
            "anyOf": [{"type": "number"}, {"type": "string", "pattern": f"^-?{_NUMBER}%?$"}]}}
    schema["description"] = p.help
    if p.default not in (None, (), ""):
        schema["default"] = p.default
    return schema


def arguments_schema(c: Command, acting_as: bool, by_agent: bool = False) -> dict[str, Any]:
    """The JSON Schema of a command's arguments as an object; ``acting_as`` adds the acting agent
    (``as``), required unless a person from outside may issue the command; ``by_agent`` leaves out
    what an agent's own call fills in (the parameters that are the caller)."""
    props: dict[str, Any] = {}
    required: list[str] = []
    if acting_as and c.acts:
        props["as"] = {"type": "string", "minLength": 1, "description": "the agent acting"}
        if not c.human:
            required.append("as")
    for p in c.params:
        if by_agent and p.me:
            continue
        props[p.name] = param_schema(p)
        if p.required:
            required.append(p.name)
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema
