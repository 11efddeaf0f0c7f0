"""Files under a root, reached without following a link (orchdsl_runtime.rootfs): what is read,
written and removed stays inside the root whatever links, files, folders or FIFOs stand in the way,
and a write is whole or absent, its temporary file never left in the folder it writes."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from orchdsl_runtime import rootfs
from orchdsl_runtime.contract.paths import UnsafePath
from orchdsl_runtime.rootfs import DISPLACED, TMP, Root


def listing(folder: Path) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        out[rel] = "link" if p.is_symlink() else p.read_bytes() if p.is_file() else "folder"
    return out


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "victim.txt").write_text("keep me")
    return root, outside


def test_write_read_remove_inside(dirs: tuple[Path, Path]) -> None:
    root, _ = dirs
    with Root(root) as r:
        r.write_text("a/b/c.yaml", "x: 1\n")
        assert (root / "a/b/c.yaml").read_text() == "x: 1\n"
        assert r.read_bytes("a/b/c.yaml") == b"x: 1\n" and r.same("a/b/c.yaml", b"x: 1\n")
        assert not r.same("a/b/c.yaml", b"x: 2\n") and not r.same("a/b/d.yaml", b"")
        assert r.kind("a/b/c.yaml") == "file" and r.kind("a/b") == "folder" and r.kind("a/zz") is None
        assert r.read_bytes("nothing/here.yaml") is None
        r.write_text("a/b/c.yaml", "x: 2\n")
        assert (root / "a/b/c.yaml").read_text() == "x: 2\n"
        assert r.remove("a/b/c.yaml") and not r.remove("a/b/c.yaml")
    assert list((root / TMP).iterdir()) == []


@pytest.mark.parametrize("rel", ["../outside/victim.txt", "/etc/passwd", "a/../../x", "a//b", "a\x00b", "a\\b"])
def test_paths_that_are_not_plain_relative_text_are_refused(dirs: tuple[Path, Path], rel: str) -> None:
    root, outside = dirs
    before = listing(outside)
    with Root(root) as r:
        for op in (lambda: r.write_text(rel, "x"), lambda: r.remove(rel), lambda: r.read_bytes(rel)):
            with pytest.raises(UnsafePath):
                op()
    assert listing(outside) == before


def test_a_link_anywhere_on_the_way_is_never_followed(dirs: tuple[Path, Path]) -> None:
    root, outside = dirs
    (root / "inbox").symlink_to(outside, target_is_directory=True)  # a folder replaced by a link
    (root / "f.yaml").symlink_to(outside / "victim.txt")  # a file replaced by a link
    before = listing(outside)
    with Root(root) as r:
        for rel in ("inbox/new.yaml", "inbox/victim.txt"):
            with pytest.raises(UnsafePath, match="symbolic link"):
                r.write_text(rel, "written through")
        for rel in ("inbox/victim.txt", "f.yaml"):
            with pytest.raises(UnsafePath, match="symbolic link"):
                r.read_bytes(rel)
            with pytest.raises(UnsafePath, match="symbolic link"):
                r.same(rel, b"keep me")
        with pytest.raises(UnsafePath, match="symbolic link"):
            r.remove("inbox/victim.txt")
        assert r.kind("inbox") == "link" and r.kind("f.yaml") == "link"
        r.write_text("f.yaml", "replaces the link")  # renamed over it: never written through
        assert (root / "f.yaml").read_text() == "replaces the link" and not (root / "f.yaml").is_symlink()
        (root / "g.yaml").symlink_to(outside / "victim.txt")
        assert r.remove("g.yaml")  # the link itself goes, never what it points to
    assert listing(outside) == before and (outside / "victim.txt").read_text() == "keep me"


def test_a_file_where_a_folder_is_needed_and_a_folder_where_a_file_is(dirs: tuple[Path, Path]) -> None:
    root, _ = dirs
    (root / "a").write_text("not a folder")
    (root / "b.yaml").mkdir()
    (root / "b.yaml" / "agent-notes.txt").write_text("mine")
    with Root(root) as r:
        with pytest.raises(UnsafePath, match="file where a folder is needed"):
            r.write_text("a/c.yaml", "x")
        with pytest.raises(UnsafePath, match="folder"):
            r.write_text("b.yaml", "x")
        with pytest.raises(UnsafePath, match="folder"):
            r.remove("b.yaml")
        with pytest.raises(UnsafePath, match="folder"):
            r.same("b.yaml", b"x")
    assert (root / "b.yaml" / "agent-notes.txt").read_text() == "mine"
    assert list((root / TMP).iterdir()) == []


def test_a_fifo_is_refused_without_waiting(dirs: tuple[Path, Path]) -> None:
    root, _ = dirs
    os.mkfifo(root / "pipe.yaml")
    with Root(root) as r:
        with pytest.raises(UnsafePath, match="special file"):
            r.read_bytes("pipe.yaml")
        assert r.kind("pipe.yaml") == "special file"


def test_a_read_is_bounded(dirs: tuple[Path, Path]) -> None:
    root, _ = dirs
    (root / "big.json").write_bytes(b"x" * 1000)
    with Root(root) as r, pytest.raises(UnsafePath, match="at most 100"):
        r.read_bytes("big.json", 100)


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(dirs: tuple[Path, Path],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = dirs
    with Root(root) as r:
        r.write_text("a/c.yaml", "old\n")
        real = os.write

        def full(fd: int, data: bytes) -> int:
            real(fd, bytes(data[:3]))  # part of it lands, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(rootfs.os, "write", full)
        with pytest.raises(OSError) as err:
            r.write_text("a/c.yaml", "new and longer\n")
        assert err.value.errno == errno.ENOSPC
    assert (root / "a/c.yaml").read_text() == "old\n"
    assert list((root / TMP).iterdir()) == [] and sorted(p.name for p in (root / "a").iterdir()) == ["c.yaml"]


def test_move_aside_and_clean_tmp(dirs: tuple[Path, Path]) -> None:
    root, _ = dirs
    (root / "a").mkdir()
    (root / "a" / "c.yaml").mkdir()
    (root / "a" / "c.yaml" / "notes.txt").write_text("mine")
    (root / TMP).mkdir()
    (root / TMP / "c.yaml.123.0.tmp").write_text("left by a killed writer")
    with Root(root) as r:
        moved = r.move_aside("a/c.yaml", "seq-3")
        assert moved == f"{DISPLACED}/seq-3/a/c.yaml"
        r.write_text("a/c.yaml", "x")
        (root / "a" / "c.yaml").unlink()
        (root / "a" / "c.yaml").mkdir()
        assert r.move_aside("a/c.yaml", "seq-3") == f"{DISPLACED}/seq-3/a/c.yaml.2"
        assert r.move_aside("a/none", "seq-3") is None
        assert r.clean_tmp() == 1
    assert (root / DISPLACED / "seq-3" / "a" / "c.yaml" / "notes.txt").read_text() == "mine"
    assert list((root / TMP).iterdir()) == []


def test_walk_does_not_follow_links_and_remove_tree_removes_only_inside(dirs: tuple[Path, Path]) -> None:
    root, outside = dirs
    (root / "t" / "x").mkdir(parents=True)
    (root / "t" / "x" / "f").write_text("1")
    (root / "t" / "out").symlink_to(outside, target_is_directory=True)
    before = listing(outside)
    with Root(root) as r:
        assert list(r.walk("t")) == [("t/out", "link"), ("t/x", "folder"), ("t/x/f", "file")]
        r.remove_tree("t")
        (root / "u").symlink_to(outside, target_is_directory=True)
        r.remove_tree("u")  # a link in a folder's place: the link goes
    assert not (root / "t").exists() and not (root / "u").exists()
    assert listing(outside) == before


def test_many_folders_keep_few_handles_open(tmp_path: Path) -> None:
    with Root(tmp_path) as r:
        for i in range(rootfs.MAX_HANDLES * 3):
            r.write_text(f"d{i}/f.yaml", str(i))
        assert len(r._dirs) <= rootfs.MAX_HANDLES + 3
        assert r.read_bytes("d7/f.yaml") == b"7"
