"""orchdsl runtime: executes a compiled organisation (loads only the compiled model JSON).

The public API: ``load_model`` and ``Model``; ``Engine`` and its commands;
``Refused`` (with ``code`` and ``reason``), ``ModelError``, ``StoreError``,
``Conflict``; ``Event``; the stores ``MemoryStore`` and ``SQLiteStore``; the
clocks ``WallClock`` and ``VirtualClock``. See docs/runtime.md.
"""

from .clock import Clock, VirtualClock, WallClock
from .contract.events import Event
from .engine import HUMAN, Engine
from .errors import CODES, Conflict, ModelError, Refused, StoreError
from .model import Model, load_model
from .state import OrgState
from .store import EventStore, MemoryStore, SQLiteStore

__all__ = [
    "CODES",
    "HUMAN",
    "Clock",
    "Conflict",
    "Engine",
    "Event",
    "EventStore",
    "MemoryStore",
    "Model",
    "ModelError",
    "OrgState",
    "Refused",
    "SQLiteStore",
    "StoreError",
    "VirtualClock",
    "WallClock",
    "load_model",
]
