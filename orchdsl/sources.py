"""Reading spec files: regular files inside the project folder, of bounded size.

In: the path of a file to read (and, for an include, the text that names it and the
project folder). Out: the file's text, or a ``SourceError`` carrying the code and message
of the diagnostic to report. A file is examined with ``os.stat`` before it is opened, so a
folder, a FIFO or a device is refused without blocking; a file that is refused is never
read, so no message can quote it.

The project folder is the folder of the top file: every include must resolve inside it
(links resolved), and an absolute include path is refused outright. Limits, each a coded
error: ``MAX_FILE_BYTES`` per file, ``MAX_TOTAL_BYTES`` for the files of one organisation
together, ``MAX_INCLUDE_DEPTH`` nested includes.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

MAX_FILE_BYTES = 8 * 1024 * 1024
"""the largest spec file read, in bytes (8 MiB)"""
MAX_TOTAL_BYTES = 16 * 1024 * 1024
"""the most bytes read for one organisation, all its files together (16 MiB)"""
MAX_INCLUDE_DEPTH = 64
"""the deepest chain of includes below the top file"""

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


@dataclass
class SourceError(Exception):
    """Why a file was not read: the diagnostic to report."""

    code: str
    message: str
    help: str | None = None


def project_root(top: Path) -> Path:
    """The project folder of a top file: its folder, links resolved."""
    return Path(os.path.realpath(top.absolute().parent))


def include_path(including: Path, written: str, root: Path) -> Path:
    """The file an ``include "written"`` in ``including`` names, proven inside ``root``."""
    if os.path.isabs(written) or PureWindowsPath(written).anchor:
        raise SourceError("ORC009", f"`{written}` is an absolute path",
                          "includes name files relative to the including file, inside the "
                          "folder of the top file")
    if any(not c.isprintable() for c in written):
        raise SourceError("ORC003", f"cannot read `{written}`: the path holds a control character")
    candidate = including.parent / written
    try:
        real = Path(os.path.realpath(candidate))
    except (OSError, ValueError) as err:
        raise SourceError("ORC003", f"cannot read `{written}`: {err}") from None
    if not real.is_relative_to(root):
        raise SourceError("ORC009", f"`{written}` is outside the project folder",
                          f"includes stay inside `{root}`, the folder of the top file "
                          "(links are followed to where they lead); move or copy the file there")
    return candidate


def read_source(path: Path, name: str, budget: int = MAX_FILE_BYTES) -> str:
    """The text of a regular file of at most ``min(budget, MAX_FILE_BYTES)`` bytes.

    ``name`` is the path as messages show it. A byte-order mark at the start is skipped.
    """
    limit = min(budget, MAX_FILE_BYTES)
    try:
        st = os.stat(path)
        _check_kind(st, name, limit)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
        with os.fdopen(fd, "rb") as fh:
            # The file may have changed between stat and open: examine what was opened.
            _check_kind(os.fstat(fh.fileno()), name, limit)
            data = fh.read(limit + 1)
    except OSError as err:
        reason = (err.strerror or str(err)).lower()
        raise SourceError("ORC003", f"cannot read `{name}`: {reason}") from None
    except ValueError as err:  # a path holding NUL
        raise SourceError("ORC003", f"cannot read `{name}`: {err}") from None
    if len(data) > limit:
        raise _too_large(name, len(data))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise SourceError("ORC003", f"cannot read `{name}`: {str(err).lower()}",
                          "spec files are UTF-8 text") from None


def _check_kind(st: os.stat_result, name: str, limit: int) -> None:
    if not stat.S_ISREG(st.st_mode):
        kind = next((what for test, what in _KINDS if test(st.st_mode)), "not a regular file")
        raise SourceError("ORC010", f"`{name}` is {kind}, not a file",
                          "name a `.orch` file" if kind == "a folder" else
                          "only regular files are read as specs")
    if st.st_size > limit:
        raise _too_large(name, st.st_size)


def _too_large(name: str, size: int) -> SourceError:
    if size > MAX_FILE_BYTES:
        return SourceError("ORC011", f"`{name}` is larger than {_mib(MAX_FILE_BYTES)}",
                           f"a spec file holds at most {_mib(MAX_FILE_BYTES)}; split it into files "
                           "that include each other")
    return SourceError("ORC011", f"`{name}` takes the files of this organisation over "
                       f"{_mib(MAX_TOTAL_BYTES)} together", "trim the files, or split the organisation")


def _mib(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB"
