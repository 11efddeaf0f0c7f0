"""Paths proven inside a root (orchdsl_runtime.contract.paths): relative text only, and no
symbolic link or file on the way, wherever it points."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from orchdsl_runtime.contract.paths import UnsafePath, inside, make_dirs, relative_parts


@pytest.mark.parametrize(("rel", "parts"), [
    ("model.json", ("model.json",)),
    ("Agent_Memory/_communication/inbox/dev-1/.gitkeep",
     ("Agent_Memory", "_communication", "inbox", "dev-1", ".gitkeep")),
    ("a..b/c", ("a..b", "c")),
])
def test_relative_parts(rel: str, parts: tuple[str, ...]) -> None:
    assert relative_parts(rel) == parts


@pytest.mark.parametrize(("rel", "says"), [
    ("", "not a relative path"),
    ("/etc/passwd", "absolute"),
    ("C:/x", "absolute"),
    ("a\\b", "backslash"),
    ("..", "`..`"),
    ("a/../../x", "`..`"),
    ("./a", "`.`"),
    ("a//b", "``"),
    ("a/", "``"),
    ("a\x00b", "control character"),
    ("a\nb", "control character"),
    ("a\x1b[31m", "control character"),
])
def test_unsafe_relative_paths(rel: str, says: str) -> None:
    with pytest.raises(UnsafePath) as err:
        relative_parts(rel)
    assert says in str(err.value.strerror)
    assert "\x00" not in err.value.strerror and "\x1b" not in err.value.strerror


def test_inside_joins_under_the_resolved_root(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    # the root itself may be reached through a link: it is what the caller named
    got = inside(tmp_path / "link", "a/b/c.txt")
    assert got == (tmp_path / "real" / "a" / "b" / "c.txt").resolve()


def test_parts_that_do_not_exist_yet_are_fine(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    assert inside(tmp_path, "a/new/deeper/file") == tmp_path.resolve() / "a" / "new" / "deeper" / "file"


@pytest.mark.parametrize("where", ["first", "middle", "last"])
@pytest.mark.parametrize("target", ["outside", "inside", "dangling"])
def test_a_link_anywhere_below_the_root_is_refused(tmp_path: Path, where: str, target: str) -> None:
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    to = {"outside": tmp_path / "outside", "inside": root / "a", "dangling": tmp_path / "nowhere"}[target]
    link = {"first": root / "x", "middle": root / "a" / "x", "last": root / "a" / "b" / "x"}[where]
    link.symlink_to(to)
    rel = {"first": "x/b/f.txt", "middle": "a/x/f.txt", "last": "a/b/x"}[where]
    with pytest.raises(UnsafePath) as err:
        inside(root, rel)
    assert err.value.errno == errno.ELOOP
    assert "symbolic link" in err.value.strerror
    assert isinstance(err.value, OSError)


def test_a_file_where_a_folder_is_needed_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("x")
    with pytest.raises(UnsafePath) as err:
        inside(tmp_path, "a/b/c")
    assert err.value.errno == errno.ENOTDIR


def test_make_dirs_creates_real_folders(tmp_path: Path) -> None:
    got = make_dirs(tmp_path, "a/b/c")
    assert got.is_dir() and not got.is_symlink()
    assert make_dirs(tmp_path, "a/b/c") == got  # again: nothing to do


def test_make_dirs_refuses_a_link_on_the_way_and_creates_nothing_through_it(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "a").symlink_to(outside)
    with pytest.raises(UnsafePath):
        make_dirs(root, "a/b")
    assert os.listdir(outside) == []
