"""Who may issue which command, from the model: the static side of the engine's checks.

``may_issue(model)`` gives, for every command that acts, the roles that can
ever issue it; ``commands_for(model, agent)`` the commands (and views) an
agent is offered.
"""

from __future__ import annotations

from .contract.commands import COMMANDS, Command
from .model import Model


def may_issue(model: Model) -> dict[str, frozenset[str]]:
    """Command name -> the roles that may issue it."""
    roles = frozenset(model.roles)
    return {c.name: roles for c in COMMANDS if c.acts and not c.view}


def commands_for(model: Model, agent: str) -> list[Command]:
    """The commands an agent may issue, in table order, and every view."""
    role = model.agents[agent].role
    allowed = may_issue(model)
    return [c for c in COMMANDS if c.view or role in allowed.get(c.name, frozenset())]
