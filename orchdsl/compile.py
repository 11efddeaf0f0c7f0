"""Stage 4, output: a checked model in, files on disk out.

``generate.build_files`` produces every output file as text, keyed by its
path relative to the output directory; this module writes them (each one
atomically, only when its content changed), removes files that the spec no
longer produces, or, with ``check``, only compares.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from orchdsl.model import Organisation

# Files in the output directory that compilation owns: anything else there is
# left alone, so that a committed tree may hold a README of its own.
OWNED_ROOTS = ("Agent_Memory", "agents", "schemas", "model.json")


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


def _existing(root: Path) -> set[str]:
    found: set[str] = set()
    for top in OWNED_ROOTS:
        p = root / top
        if p.is_file():
            found.add(top)
        elif p.is_dir():
            for f in p.rglob("*"):
                if f.is_file():
                    found.add(f.relative_to(root).as_posix())
    return found


def write_atomic(path: Path, data: bytes) -> None:
    """Write then rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def compile_to_dir(org: Organisation, out: Path, check: bool = False, layout: str = "default",
                   run_dir: str | None = None) -> Report:
    """Write (or with ``check`` compare) the output of ``layout``; ``ValueError`` when an
    existing ``.mcp.json`` cannot be merged."""
    from orchdsl.generate import build_files, claude

    files = build_files(org, layout, run_dir)
    if layout == "claude":
        claude.settle(out, files)
    report = Report(total=len(files))
    present = (_existing(out) | (claude.owned(out) if layout == "claude" else set())) if out.exists() else set()
    for rel, text in sorted(files.items()):
        data = text.encode("utf-8")
        path = out / rel
        old = path.read_bytes() if rel in present else None
        if old == data:
            continue
        if check:
            (report.missing if old is None else report.changed).append(rel)
            continue
        write_atomic(path, data)
        report.written += 1
    for rel in sorted(present - set(files)):
        if check:
            report.extra.append(rel)
        else:
            (out / rel).unlink()
            report.removed += 1
    return report
