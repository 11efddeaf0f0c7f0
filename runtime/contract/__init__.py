"""The contract between the compiler and the runtime, owned by the runtime.

Standard library only: the compiler imports it to produce the shape the
runtime reads, and the runtime imports nothing else of the compiler. It holds
the facts both sides must agree on, each declared once.

- ``names``: the one rule for names and ids that become file names.
"""
