"""orchdsl: a language, checker, compiler and runtime for organisations of LLM agents."""

__version__ = "0.1.0"
