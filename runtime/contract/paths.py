"""Paths inside a root: the one proof that a file written or deleted lies inside its folder.

The compiler writes only inside its output folder and the runtime only inside its run
folder. Both build every path from validated names (see ``names``) as a relative path with
forward slashes, then ask ``inside`` for the file to open:

- the relative path is checked as text: not absolute, no empty, ``.`` or ``..`` part, no
  backslash and no control character;
- every part that already exists, from the root down, is examined with ``os.lstat``, which
  does not follow links: a symbolic link anywhere below the root is refused, wherever it
  points, and so is a file where a folder is needed.

The root itself is resolved once and trusted: it is what the user named (``-o out``), and
it may be reached through a link (``/tmp`` is one on some systems). ``make_dirs`` creates the
missing folders of a proven path one at a time and checks each again, so that a folder made
elsewhere in the meantime is noticed.

A refusal raises ``UnsafePath``, an ``OSError``: callers report it as the I/O problem it is
(exit 2), with the relative path and the reason in its message.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


class UnsafePath(OSError):
    """A path that would leave its root, or pass through a link or a file on the way."""

    def __init__(self, rel: str, reason: str, code: int = errno.EPERM) -> None:
        super().__init__(code, f"`{_shown(rel)}` {reason}", rel)
        self.rel = rel
        self.reason = reason


def relative_parts(rel: str) -> tuple[str, ...]:
    """The parts of a relative path written with ``/``, or ``UnsafePath`` when it is not one."""
    if not isinstance(rel, str) or not rel:
        raise UnsafePath(str(rel), "is not a relative path", errno.EINVAL)
    if rel.startswith("/") or (len(rel) > 1 and rel[1] == ":"):
        raise UnsafePath(rel, "is an absolute path; only paths inside the folder are written",
                         errno.EINVAL)
    if "\\" in rel:
        raise UnsafePath(rel, "holds a backslash; paths are written with `/`", errno.EINVAL)
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in rel):
        raise UnsafePath(rel, "holds a control character", errno.EINVAL)
    parts = tuple(rel.split("/"))
    for part in parts:
        if part in ("", ".", ".."):
            raise UnsafePath(rel, f"holds the part `{part}`; it could leave the folder", errno.EINVAL)
    return parts


def root_of(root: Path | str) -> Path:
    """The root as an absolute path, links in it resolved (the root is trusted as named)."""
    return Path(os.path.realpath(root))


def inside(root: Path | str, rel: str) -> Path:
    """``root/rel`` as an absolute path, proven to stay inside ``root``.

    Raises ``UnsafePath`` when ``rel`` is not a plain relative path, when a part of it that
    exists is a symbolic link, or when a part that must be a folder is something else. Parts
    that do not exist yet are fine: nothing on disk can redirect them.
    """
    parts = relative_parts(rel)
    base = root_of(root)
    current = base
    for i, part in enumerate(parts):
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            break
        except NotADirectoryError:
            raise UnsafePath(rel, "passes through a file where a folder is needed", errno.ENOTDIR) from None
        here = "/".join(parts[: i + 1])
        if stat.S_ISLNK(mode):
            what = "is" if i == len(parts) - 1 else f"passes through `{_shown(here)}`, which is"
            raise UnsafePath(rel, f"{what} a symbolic link; links are never followed here (remove it)",
                             errno.ELOOP)
        if i < len(parts) - 1 and not stat.S_ISDIR(mode):
            raise UnsafePath(rel, f"needs `{_shown(here)}` to be a folder, and it is not", errno.ENOTDIR)
    return base.joinpath(*parts)


def make_dirs(root: Path | str, rel: str) -> Path:
    """Create the folder ``root/rel`` and its missing parents, each proven inside the root.

    Each folder is created with ``os.mkdir`` (never through a link) and examined again with
    ``os.lstat`` afterwards. Returns the absolute path of the folder.
    """
    parts = relative_parts(rel)
    path = inside(root, rel)
    base = root_of(root)
    current = base
    for i, part in enumerate(parts):
        current = current / part
        try:
            os.mkdir(current)
        except FileExistsError:
            pass
        mode = os.lstat(current).st_mode
        if not stat.S_ISDIR(mode) or stat.S_ISLNK(mode):
            raise UnsafePath(rel, f"needs `{_shown('/'.join(parts[: i + 1]))}` to be a folder, and it is not",
                             errno.ENOTDIR)
    return path


def _shown(text: str) -> str:
    """A path for a message: control characters shown as escapes, never written raw."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
                   for c in text)
