"""The whole front end on one screen: files in, model and diagnostics out.

    read + parse (with includes) -> lower (names, types, values) -> checks (graphs)

Each stage reports every problem it finds. A file that does not parse (or
an include that cannot be read) yields no model and stops there. Lowering
always yields a model when there is an `org`, and the checks run on it even
after lowering errors: lowering records what it could not resolve
(``Organisation.broken``) and the checks stay silent about the consequences,
so that one mistake is reported once and not again as a cascade.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from orchdsl import ast
from orchdsl.diagnostics import Diagnostic, Diagnostics, Label, Span
from orchdsl.model import Organisation

if TYPE_CHECKING:
    from orchdsl.parser import ParseFn


@dataclass
class Result:
    """What a check produced: the model (when lowering succeeded) and every diagnostic."""

    model: Organisation | None
    diagnostics: list[Diagnostic]
    sources: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    trees: list[ast.File] = field(default_factory=list)  # the syntax trees, when every file parsed

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def display_path(path: Path) -> str:
    """Paths in messages: relative to the working directory when below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def load(paths: list[Path], diags: Diagnostics, sources: dict[str, str]) -> list[ast.File]:
    """Parse the given files and everything they include, each file once.

    Files are read by ``sources``: regular files only, of bounded size, and includes
    only inside the folder of the top file, at most ``MAX_INCLUDE_DEPTH`` deep. The
    walk keeps its own stack (depth first, in the order of the includes), so a long
    chain of includes costs no recursion.
    """
    from orchdsl import sources as src
    from orchdsl.parser import parse_text

    files: list[ast.File] = []
    done: set[Path] = set()
    total = 0

    for top in paths:
        root = src.project_root(top)
        # (path, real paths of the files that include it, the include that named it)
        todo: list[tuple[Path, tuple[Path, ...], Span | None]] = [(top, (), None)]
        while todo:
            path, chain, via = todo.pop()
            real = Path(os.path.realpath(path))
            if real in chain:
                cycle = " -> ".join(display_path(p) for p in [*chain[chain.index(real):], real])
                diags.add("ORC004", f"include cycle: {cycle}", via,
                          help="remove one of the includes; each file is read once anyway")
                continue
            if real in done:
                continue
            done.add(real)
            name = display_path(path)
            try:
                text = src.read_source(path, name, src.MAX_TOTAL_BYTES - total)
            except src.SourceError as err:
                diags.add(err.code, err.message, via, help=err.help)
                continue
            total += len(text.encode("utf-8"))
            sources[name] = text
            tree = parse_text(text, name, diags)
            if tree is None:
                continue
            files.append(tree)
            found: list[tuple[Path, tuple[Path, ...], Span | None]] = []
            for item in tree.items:
                if not (isinstance(item, ast.Clause) and item.kind == "include"):
                    continue
                target = item.value
                assert isinstance(target, ast.Text)
                if len(chain) + 1 > src.MAX_INCLUDE_DEPTH:
                    diags.add("ORC012", f"includes nest more than {src.MAX_INCLUDE_DEPTH} deep here",
                              target.span, notes=[f"`{name}` is {len(chain)} includes below "
                                                  f"`{display_path(top)}`"],
                              help="include the parts from fewer levels, e.g. all from the top file")
                    continue
                try:
                    found.append((src.include_path(path, target.value, root), (*chain, real), target.span))
                except src.SourceError as err:
                    diags.add(err.code, err.message, target.span, help=err.help)
            todo.extend(reversed(found))
    return files


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a spec is checked.

    Checking allocates millions of small objects that all live until the end;
    the collector would scan them again and again for cycles that do not
    exist (a third of the time of a large spec). It is restored afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def check_files(paths: list[Path]) -> Result:
    """Parse, resolve and check an organisation made of ``paths`` and their includes."""
    from orchdsl.checks import run_checks
    from orchdsl.lower import lower

    with _collector_paused():
        diags = Diagnostics()
        sources: dict[str, str] = {}
        files = load(paths, diags, sources)
        model = None
        if not diags.has_errors:
            model = lower(files, diags)
            if model is not None:
                run_checks(model, diags)
        return Result(model, diags.sorted(), sources, [f.path for f in files], files)


def check_text(text: str, name: str = "<input>", base: Path | None = None,
               parse: ParseFn | None = None) -> Result:
    """Check a spec held in memory: standard input, or an editor's unsaved buffer.

    Its includes are read from disk relative to ``base``; without ``base``
    they are not followed (and reported). ``parse`` stands in for
    ``parser.parse_text`` for this text (the language server's, which keeps
    what it parsed before); an include that leads back to ``name`` is not
    read again from disk.
    """
    from orchdsl import sources as src
    from orchdsl.checks import run_checks
    from orchdsl.lower import lower
    from orchdsl.parser import parse_text

    with _collector_paused():
        diags = Diagnostics()
        sources = {name: text}
        tree = (parse or parse_text)(text, name, diags)
        model = None
        files = [name]
        trees: list[ast.File] = []
        if tree is not None:
            trees = [tree]
            targets: list[Path] = []
            for item in tree.items:
                if isinstance(item, ast.Clause) and item.kind == "include":
                    if base is None:
                        diags.add("ORC003", "includes are not followed when checking text", item.span)
                        continue
                    assert isinstance(item.value, ast.Text)
                    try:  # the rules of `load`: inside the folder of the top file
                        here = base / "-"  # where the text stands: only its folder counts
                        target = src.include_path(here, item.value.value, src.project_root(here))
                    except src.SourceError as err:
                        diags.add(err.code, err.message, item.value.span, help=err.help)
                        continue
                    if not target.exists():  # `load` reports any other reason, without a place
                        diags.add("ORC003", f"cannot read `{display_path(target)}`: no such file or directory",
                                  item.value.span)
                        continue
                    targets.append(target)
            if targets:
                trees += [t for t in load(targets, diags, sources) if t.path != name]
                sources[name] = text
                files += [t.path for t in trees[1:]]
            if not diags.has_errors or base is None:
                model = lower(trees, diags)
                if model is not None:
                    run_checks(model, diags)
        return Result(model, diags.sorted(), sources, files, trees)


__all__ = ["Result", "check_files", "check_text", "load", "Label"]
