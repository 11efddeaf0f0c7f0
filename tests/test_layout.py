"""The code's layout: the packages load from this checkout, and no module imports itself
through others.

The import graph is read from the source with ``ast``: every ``import`` and ``from ... import``
anywhere in a module counts, including the lazy ones inside functions and those under ``if
TYPE_CHECKING:``, since a cycle that is only lazy (or only in types) still ties the modules
together. An import of a package's module counts as an import of that module only, not of the
package's ``__init__``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent
# import package -> its folder in the checkout (pyproject.toml's package-dir)
PACKAGES = {"orchdsl": "orchdsl", "orchdsl_runtime": "runtime", "orchdsl_grammar": "grammar",
            "orchdsl_codes": "docs/codes"}
ANALYSED = ("orchdsl", "orchdsl_runtime")


# ---------------------------------------------------------------- one checkout


def test_packages_load_from_this_checkout(tmp_path: Path) -> None:
    """Run from elsewhere, this environment imports each package from this checkout's folder,
    so an older install cannot shadow the code under test."""
    code = "import importlib\n" + "".join(
        f"print(importlib.import_module({name!r}).__file__)\n" for name in PACKAGES)
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         check=True).stdout.split()
    for (name, folder), file in zip(PACKAGES.items(), out, strict=True):
        assert Path(file).resolve().parent == (ROOT / folder).resolve(), (name, file)


def test_packages_under_test_are_this_checkouts() -> None:
    import orchdsl_grammar
    import orchdsl_runtime

    import orchdsl

    for module, folder in ((orchdsl, "orchdsl"), (orchdsl_runtime, "runtime"), (orchdsl_grammar, "grammar")):
        assert module.__file__ is not None
        assert Path(module.__file__).resolve().parent == (ROOT / folder).resolve(), module.__name__


# ---------------------------------------------------------------- no import cycles


def modules() -> dict[str, Path]:
    """Module name -> source file, for every module of the analysed packages."""
    out: dict[str, Path] = {}
    for package in ANALYSED:
        folder = ROOT / PACKAGES[package]
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join([package, *parts])] = path
    return out


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The analysed modules that module ``name`` imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for a in node.names:
                # `from pkg import mod` imports the module; `from mod import name` the module
                found.add(f"{target}.{a.name}" if f"{target}.{a.name}" in known else target)
    return {m for m in found if m in known and m != name}


def import_graph() -> nx.DiGraph:
    mods = modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(mods)
    for name, path in mods.items():
        graph.add_edges_from((name, target) for target in imported(name, path, set(mods)))
    return graph


def cycles(package: str) -> list[list[str]]:
    """Groups of modules that import each other, directly or through others, touching ``package``."""
    groups = [sorted(c) for c in nx.strongly_connected_components(import_graph()) if len(c) > 1]
    return sorted(g for g in groups if any(m.split(".")[0] == package for m in g))


def test_the_graph_sees_lazy_and_relative_imports() -> None:
    graph = import_graph()
    assert graph.has_edge("orchdsl.pipeline", "orchdsl.lower")  # inside a function
    assert graph.has_edge("orchdsl.lower", "orchdsl.lower.scope")
    assert graph.has_edge("orchdsl_runtime.tasks", "orchdsl_runtime.errors")  # `from .errors import`
    assert graph.number_of_nodes() > 60


def test_no_import_cycles_in_the_compiler() -> None:
    assert cycles("orchdsl") == []


def test_no_import_cycles_in_the_runtime() -> None:
    assert cycles("orchdsl_runtime") == []
