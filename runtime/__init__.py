"""orchdsl runtime: executes a compiled organisation (loads only the compiled model JSON)."""
