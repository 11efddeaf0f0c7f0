"""Files under a root folder, reached without following a link: the run directory's I/O.

The run directory holds files the runtime writes and agents may change: ``model.json``, the
manifest, the ``Agent_Memory`` tree. Every file the runtime reads, writes or removes there goes
through a ``Root``:

- a path is relative text with ``/`` (checked by ``contract.paths.relative_parts``: no
  absolute path, no ``..``, no control character);
- it is reached from the root one folder at a time through directory handles opened with
  ``O_NOFOLLOW``: a symbolic link anywhere below the root, wherever it points, is refused
  (``UnsafePath``), and so is a file where a folder is needed. Because every later step
  starts from a handle, not from a path, a folder replaced by a link between two steps is
  never followed either;
- a file is opened without following a link and without blocking (a FIFO in a file's place
  is refused, never waited on), and only a regular file is read;
- a file is written atomically: a temporary file in the run-level ``TMP`` folder (on the same
  file system, outside every agent's folder), then renamed into place. The temporary file is
  removed on any failure; one left by a killed process is removed by ``clean_tmp``;
- a folder or anything else that is not a regular file is never removed here; ``move_aside``
  renames what is in the way into ``DISPLACED`` so nothing of an agent's is ever deleted.

The root itself is resolved once and trusted as named (``contract.paths.root_of``). Where the
platform has no directory handles (Windows), each path is proven with ``contract.paths.inside``
before it is used instead.
"""

from __future__ import annotations

import errno
import functools
import itertools
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from .contract.paths import UnsafePath, inside, make_dirs, relative_parts, root_of

TMP = ".orchdsl-tmp"
"""the run-level folder of temporary files"""
DISPLACED = "displaced"
"""where ``move_aside`` puts what stood in the way of a file the runtime writes"""

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
HANDLES = bool(_O_NOFOLLOW and _O_DIRECTORY) and {os.open, os.mkdir, os.rename, os.unlink, os.stat} <= os.supports_dir_fd
"""whether folders are walked through directory handles (POSIX) rather than proven path by path"""
_DIR_FLAGS = os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC
_counter = itertools.count()
_parts = functools.lru_cache(maxsize=1 << 16)(relative_parts)
"""``relative_parts``, remembered: the projection asks for the same paths after every command"""
MAX_HANDLES = 200
"""how many folder handles a ``Root`` keeps open at most"""

Dir = int | Path
"""a folder reached from the root: its handle, or its proven path where there are no handles"""


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISLNK(mode):
        return "link"
    return "special file"


class Root:
    """A folder whose files are read, written and removed without following a link out of it.

    Directory handles are kept open while the ``Root`` is (``with Root(path) as root: ...``)."""

    def __init__(self, path: Path | str) -> None:
        self.path = root_of(path)
        self._dirs: dict[tuple[str, ...], Dir] = {}

    def __enter__(self) -> Root:
        return self

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        dirs, self._dirs = self._dirs, {}
        for d in dirs.values():
            if isinstance(d, int):
                os.close(d)

    # -- folders -------------------------------------------------------------------------

    def _trim(self) -> None:
        """Close the handles kept so far when there are many (called before an operation
        takes handles, never while one is held)."""
        if len(self._dirs) > MAX_HANDLES:
            self.close()

    def _dir(self, parts: tuple[str, ...], create: bool) -> Dir | None:
        """The folder ``parts`` below the root (created when ``create``), or ``None`` when it
        does not exist; ``UnsafePath`` when a link or a file is on the way."""
        d = self._dirs.get(parts)
        if d is not None:
            return d
        if not HANDLES:
            return self._proven_dir(parts, create)
        if not parts:
            try:
                d = os.open(self.path, _DIR_FLAGS)
            except FileNotFoundError:
                if not create:
                    return None
                self.path.mkdir(parents=True, exist_ok=True)
                d = os.open(self.path, _DIR_FLAGS)
        else:
            parent = self._dir(parts[:-1], create)
            if parent is None:
                return None
            assert isinstance(parent, int)
            name = parts[-1]
            try:
                d = os.open(name, _DIR_FLAGS, dir_fd=parent)
            except FileNotFoundError:
                if not create:
                    return None
                try:
                    os.mkdir(name, 0o777, dir_fd=parent)
                except FileExistsError:
                    pass
                d = self._open_dir(name, parent, parts)
            except OSError as exc:
                raise _not_a_folder(parent, name, parts, exc) from None
        self._dirs[parts] = d
        return d

    def _open_dir(self, name: str, parent: int, parts: tuple[str, ...]) -> int:
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=parent)
        except OSError as exc:
            raise _not_a_folder(parent, name, parts, exc) from None

    def _proven_dir(self, parts: tuple[str, ...], create: bool) -> Path | None:
        rel = "/".join(parts)
        if not parts:
            if create:
                self.path.mkdir(parents=True, exist_ok=True)
            return self.path if self.path.is_dir() else None
        path = make_dirs(self.path, rel) if create else inside(self.path, rel)
        if not create and not path.is_dir():
            if path.exists():
                raise UnsafePath(rel, "is not a folder", errno.ENOTDIR)
            return None
        self._dirs[parts] = path
        return path

    def _at(self, rel: str, create: bool) -> tuple[Dir | None, str, tuple[str, ...]]:
        parts = _parts(rel)
        self._trim()
        return self._dir(parts[:-1], create), parts[-1], parts

    # -- reading -------------------------------------------------------------------------

    def kind(self, rel: str) -> str | None:
        """``file``, ``folder``, ``link`` or ``special file`` for what is at ``rel`` (not
        followed), ``None`` when nothing is; ``UnsafePath`` when a link or a file is on the way."""
        d, name, _ = self._at(rel, False)
        if d is None:
            return None
        try:
            st = _stat(d, name)
        except FileNotFoundError:
            return None
        return _kind(st.st_mode)

    def _open_file(self, rel: str, why: str) -> tuple[BinaryIO, int] | None:
        """The regular file ``rel`` opened for reading, with its size; ``None`` when there is
        none; ``UnsafePath`` (saying ``why``) for a link, a folder or a special file."""
        d, name, parts = self._at(rel, False)
        if d is None:
            return None
        try:
            fd = _open(d, name, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC | _O_NONBLOCK)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _unsafe(parts, exc) from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise UnsafePath(rel, f"is a {_kind(st.st_mode)} {why}", errno.EISDIR)
        return os.fdopen(fd, "rb"), st.st_size

    def read_bytes(self, rel: str, limit: int | None = None) -> bytes | None:
        """The bytes of the regular file ``rel``, ``None`` when there is none; ``UnsafePath``
        for a link, a folder or a special file in its place, or a file over ``limit`` bytes."""
        opened = self._open_file(rel, "where a file is read")
        if opened is None:
            return None
        fh, size = opened
        with fh:
            if limit is not None and size > limit:
                raise UnsafePath(rel, f"has {size} bytes; at most {limit} are read", errno.EFBIG)
            return fh.read()

    def same(self, rel: str, data: bytes) -> bool:
        """Whether the regular file ``rel`` holds exactly ``data`` (read only when the sizes agree)."""
        opened = self._open_file(rel, "where the runtime writes a file")
        if opened is None:
            return False
        fh, size = opened
        with fh:
            return size == len(data) and fh.read() == data

    def walk(self, rel: str) -> Iterator[tuple[str, str]]:
        """``(path, kind)`` of everything below the folder ``rel``, links not followed, folders
        before what they hold; nothing when ``rel`` does not exist."""
        parts = relative_parts(rel)
        self._trim()
        d = self._dir(parts, False)
        if d is None:
            return
        with os.scandir(d if isinstance(d, int) else str(d)) as it:
            entries = sorted((e.name, _kind(e.stat(follow_symlinks=False).st_mode)) for e in it)
        for name, kind in entries:
            sub = f"{rel}/{name}"
            yield sub, kind
            if kind == "folder":
                yield from self.walk(sub)

    # -- writing -------------------------------------------------------------------------

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write ``data`` to ``rel`` atomically (a temporary file in ``TMP``, then a rename);
        folders on the way are created. ``UnsafePath`` when a link, a file where a folder is
        needed or a folder in the file's place is met; an ``OSError`` (e.g. ``ENOSPC``) leaves
        the old file and no temporary file."""
        d, name, parts = self._at(rel, True)
        assert d is not None
        tmp_dir = self._dir((TMP,), True)
        assert tmp_dir is not None
        tmp = f"{name[:40]}.{os.getpid()}.{next(_counter)}.tmp"
        fd = _open(tmp_dir, tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC, 0o666)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
            _rename(tmp_dir, tmp, d, name)
        except BaseException as exc:
            try:
                _unlink(tmp_dir, tmp)
            except OSError:
                pass
            if isinstance(exc, IsADirectoryError) or getattr(exc, "errno", None) in (errno.EISDIR, errno.ENOTEMPTY,
                                                                                    errno.EEXIST):
                raise UnsafePath(rel, "is a folder where the runtime writes a file", errno.EISDIR) from None
            raise

    def write_text(self, rel: str, text: str) -> None:
        self.write_bytes(rel, text.encode("utf-8"))

    def remove(self, rel: str) -> bool:
        """Remove the file (or the link itself, never what it points to) at ``rel``; ``False``
        when nothing is there. A folder is never removed here (``UnsafePath``)."""
        d, name, parts = self._at(rel, False)
        if d is None:
            return False
        try:
            mode = _stat(d, name).st_mode
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(mode):
            raise UnsafePath(rel, "is a folder where the runtime writes a file", errno.EISDIR)
        try:
            _unlink(d, name)
        except FileNotFoundError:
            return False
        return True

    def remove_tree(self, rel: str) -> None:
        """Remove the folder ``rel`` and what it holds without following a link (a link in its
        place is removed itself)."""
        d, name, _ = self._at(rel, False)
        if d is None:
            return
        try:
            mode = _stat(d, name).st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISDIR(mode):
            _unlink(d, name)
            return
        if isinstance(d, int) and shutil.rmtree.avoids_symlink_attacks:
            shutil.rmtree(name, dir_fd=d)
        else:
            shutil.rmtree(Path(d) / name if not isinstance(d, int) else self.path / rel)
        self._forget(relative_parts(rel))

    def move_aside(self, rel: str, label: str) -> str | None:
        """Rename what is at ``rel`` (a folder, a link, any file) to ``DISPLACED/label/rel``;
        returns that path, or ``None`` when nothing is at ``rel``."""
        parts = relative_parts(rel)
        if self.kind(rel) is None:
            return None
        target = f"{DISPLACED}/{label}/{rel}"
        for n in itertools.count(2):
            if self.kind(target) is None:
                break
            target = f"{DISPLACED}/{label}/{rel}.{n}"
        td, tname, _ = self._at(target, True)
        d = self._dir(parts[:-1], False)  # after the last trim: both handles stay open
        assert td is not None and d is not None
        try:
            _rename(d, parts[-1], td, tname)
        except FileNotFoundError:
            return None
        self._forget(parts)
        return target

    def clean_tmp(self) -> int:
        """Remove the temporary files in ``TMP`` (left by killed writers); how many."""
        n = 0
        for rel, kind in list(self.walk(TMP)):
            if kind != "folder" and rel.count("/") == 1 and rel.endswith(".tmp"):
                n += self.remove(rel)
        return n

    def _forget(self, parts: tuple[str, ...]) -> None:
        for key in [k for k in self._dirs if k[: len(parts)] == parts]:
            d = self._dirs.pop(key)
            if isinstance(d, int):
                os.close(d)


def _not_a_folder(parent: int, name: str, parts: tuple[str, ...], exc: OSError) -> OSError:
    """Why the folder ``name`` could not be opened: a link or something else in its place."""
    try:
        mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
    except OSError:
        return _unsafe(parts, exc)
    rel = "/".join(parts)
    if stat.S_ISLNK(mode):
        return UnsafePath(rel, "is a symbolic link; links are never followed in a run directory", errno.ELOOP)
    if not stat.S_ISDIR(mode):
        return UnsafePath(rel, f"is a {_kind(mode)} where a folder is needed", errno.ENOTDIR)
    return _unsafe(parts, exc)


def _unsafe(parts: tuple[str, ...], exc: OSError) -> OSError:
    """An ``OSError`` met on the way to ``parts``, told as what it means here."""
    rel = "/".join(parts)
    if isinstance(exc, UnsafePath):
        return exc
    if exc.errno in (errno.ELOOP, errno.EMLINK):
        return UnsafePath(rel, "is a symbolic link; links are never followed in a run directory", errno.ELOOP)
    if exc.errno == errno.ENOTDIR:
        return UnsafePath(rel, "is reached through a file where a folder is needed", errno.ENOTDIR)
    return exc


def _name(d: Dir, name: str) -> tuple[str, int | None]:
    return (name, d) if isinstance(d, int) else (str(d / name), None)


def _open(d: Dir, name: str, flags: int, mode: int = 0o777) -> int:
    path, fd = _name(d, name)
    return os.open(path, flags, mode, dir_fd=fd)


def _stat(d: Dir, name: str) -> os.stat_result:
    path, fd = _name(d, name)
    return os.stat(path, dir_fd=fd, follow_symlinks=False)


def _unlink(d: Dir, name: str) -> None:
    path, fd = _name(d, name)
    os.unlink(path, dir_fd=fd)


def _rename(src_dir: Dir, src: str, dst_dir: Dir, dst: str) -> None:
    if isinstance(src_dir, int) and isinstance(dst_dir, int):
        os.rename(src, dst, src_dir_fd=src_dir, dst_dir_fd=dst_dir)
    else:
        os.replace(_name(src_dir, src)[0], _name(dst_dir, dst)[0])
