"""The contract between the compiler and the runtime, owned by the runtime.

Standard library only: the compiler imports it to produce the shape the
runtime reads, and the runtime imports nothing else of the compiler. It holds
the facts both sides must agree on, each declared once.

- ``model``: the compiled model, one frozen dataclass per part; ``codec``
  reads and writes it (and any other typed data), checking every field;
- ``events``: the event types and the shape of each one's data;
- ``commands``: the command table, from which every adapter is generated;
- ``layout``: the Agent_Memory paths, the YAML of generated files, atomic writes;
- ``names``: the one rule for names and ids that become file names;
- ``paths``: proving a path lies inside its root without following links;
- ``budgets``: the units of time and tokens;
- ``guards``: the guard format's evaluator, printer and limits.
"""
