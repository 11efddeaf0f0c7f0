"""Stage 4, output: a checked model in, files on disk out.

``generate.build_files`` produces every output file as text, keyed by its
path relative to the output directory; this module writes them (each one
atomically, only when its content changed), removes files that the spec no
longer produces, or, with ``check``, only compares.

Nothing is written or deleted outside the output directory. Every path is
built from names the checker validated, and every path written, read or
deleted is proven inside the directory by ``contract.paths.inside`` before
anything is opened: a symbolic link, or anything but a regular file, in the
folders compilation owns is refused (``UnsafePath``, an ``OSError``), and
the refusal comes before the first write, so a refused compile changes
nothing. The output directory itself is trusted as named.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from orchdsl_runtime.contract import layout
from orchdsl_runtime.contract.paths import (
    UnsafePath,
    inside,
    make_dirs,
    root_of,
)

from orchdsl.model import Organisation

# Files in the output directory that compilation owns: anything else there is
# left alone, so that a committed tree may hold a README of its own.
OWNED_ROOTS = ("Agent_Memory", "agents", "schemas", "docs", "model.json")


@dataclass
class Report:
    total: int = 0
    written: int = 0
    removed: int = 0
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.changed or self.extra)

    def describe(self) -> list[str]:
        return ([f"missing: {p}" for p in self.missing] + [f"differs: {p}" for p in self.changed]
                + [f"not produced by the spec: {p}" for p in self.extra])


def _existing(root: Path, roots: tuple[str, ...] = OWNED_ROOTS) -> dict[str, int]:
    """The regular files below the owned ``roots``, with their sizes; links are not followed
    and anything but a folder or a regular file there is refused."""
    found: dict[str, int] = {}

    def see(rel: str) -> None:
        st = os.lstat(inside(root, rel))
        if stat.S_ISREG(st.st_mode):
            found[rel] = st.st_size
        elif not stat.S_ISDIR(st.st_mode):
            raise UnsafePath(rel, "is not a regular file; remove it")

    # a temporary file of model.json that a killed compile left beside it
    leftovers = [n for n in os.listdir(root) if n.startswith(".model.json.") and n.endswith(".tmp")
                 and stat.S_ISREG(os.lstat(root / n).st_mode)]
    for top in [*roots, *sorted(leftovers)]:
        if not os.path.lexists(root / top):
            continue
        see(top)
        if top in found:
            continue
        for folder, dirs, files in os.walk(root / top):
            rel_folder = Path(folder).relative_to(root).as_posix()
            for name in sorted(dirs) + sorted(files):
                see(f"{rel_folder}/{name}")
    return found


def write_inside(root: Path, rel: str, text: str) -> None:
    """Write ``root/rel`` atomically (``layout.write_text``: a reader never sees half a
    file, and the temporary file never outlives a failure), after proving the path inside
    ``root`` and creating its missing folders one at a time."""
    path = inside(root, rel)
    parent = rel.rpartition("/")[0]
    if parent:
        make_dirs(root, parent)
    layout.write_text(path, text)


def compile_to_dir(org: Organisation, out: Path, check: bool = False, layout: str = "default",
                   run_dir: str | None = None) -> Report:
    """Write (or with ``check`` compare) the output of ``layout``; ``ValueError`` when an
    existing ``.mcp.json`` cannot be merged."""
    from orchdsl.generate import build_files, claude

    files = build_files(org, layout, run_dir)
    report = Report(total=len(files))
    if os.path.lexists(out) and not os.path.isdir(out):
        raise NotADirectoryError(errno.ENOTDIR, "it exists and is not a folder", str(out))
    root = root_of(out)
    claudes = layout == "claude"
    present = _existing(root, OWNED_ROOTS + (claude.ROOTS if claudes else ())) if root.is_dir() else {}
    if claudes:
        present = claude.owned(root, present)
        claude.settle(root, files, present)
    # Every path is proven before the first write: a refusal leaves the folder as it was.
    for rel in files:
        inside(root, rel)
    extra = sorted(set(present) - set(files))
    for rel, text in sorted(files.items()):
        data = text.encode("utf-8")
        old = None
        if rel in present and present[rel] == len(data):
            old = inside(root, rel).read_bytes()
        if old == data:
            continue
        if check:
            (report.missing if rel not in present else report.changed).append(rel)
            continue
        if not report.written and not root.is_dir():
            os.makedirs(root, exist_ok=True)
        write_inside(root, rel, text)
        report.written += 1
    for rel in extra:
        if check:
            report.extra.append(rel)
        else:
            os.unlink(inside(root, rel))
            report.removed += 1
    return report
