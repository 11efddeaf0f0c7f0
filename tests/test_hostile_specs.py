"""Hostile specs and output folders: each ends in a clear, coded error, quickly, and changes
nothing outside the output folder.

Every case works in a temporary folder holding ``project/`` (the spec, beside copies of the
base files of the code pages), ``out/`` (the output of ``orchdsl compile``) and ``sentinel/``
beside them, which holds a secret file that no message may quote. Everything but ``out/`` is
listed and read before and after the command (links are listed, never followed) and must not
have changed; ``out/`` must not have changed either when the command is refused, and never holds
a temporary file afterwards. Exit codes: 1 for a spec the checker refuses, 2 for an output folder
that cannot be written safely, never 3.

Cases that could block a reader (a FIFO, ``/dev/zero``) run the installed command in a
subprocess with a timeout; the others call ``orchdsl.cli.main`` in-process.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from orchdsl_runtime.contract.guards import MAX_DEPTH

from orchdsl.cli import main
from orchdsl.render import MAX_PER_FILE
from orchdsl.sources import MAX_FILE_BYTES, MAX_TOTAL_BYTES

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "docs" / "codes"
SECRET = "TOPSECRET-7f3a do not print"

HEAD = 'org example\ninclude "base_flow.orch"\n'
# base.orch and a lifecycle of one guarded transition, for guard cases
GUARDED = """org example
include "base.orch"
lifecycle task {{
  state TODO {{
    initial
    owner @lead
    -> DONE when {guard} by @lead
  }}
  state DONE {{ terminal success }}
}}
"""


@dataclass
class Case:
    """What a case writes into the project (``spec`` is the top file's text, or a function
    that prepares the folder and returns it), how it is run and what it must end in."""

    spec: str | Callable[[Path], str]
    command: str  # "check", "compile", "compile --check" or "check /dev/zero"
    exit: int
    code: str


# ---------------------------------------------------------------- how a folder is prepared


def _link(rel: str, target: str | Callable[[Path], Path], text: str) -> Callable[[Path], str]:
    def prepare(tmp: Path) -> str:
        to = target(tmp) if callable(target) else Path(target)
        (tmp / "project" / rel).symlink_to(to)
        return text
    return prepare


def _folder(rel: str, text: str) -> Callable[[Path], str]:
    def prepare(tmp: Path) -> str:
        (tmp / "project" / rel).mkdir()
        return text
    return prepare


def _sparse(rel: str, size: int, text: str) -> Callable[[Path], str]:
    def prepare(tmp: Path) -> str:
        with open(tmp / "project" / rel, "wb") as fh:
            fh.truncate(size)
        return text
    return prepare


def _comment_files(count: int, size: int) -> Callable[[Path], str]:
    """``count`` files of ``size`` bytes each, one comment line, all included by the top file."""
    def prepare(tmp: Path) -> str:
        line = b"#" + b"x" * (size - 2) + b"\n"
        for i in range(count):
            (tmp / "project" / f"part{i}.orch").write_bytes(line)
        return HEAD + "".join(f'include "part{i}.orch"\n' for i in range(count))
    return prepare


def _chain(length: int) -> Callable[[Path], str]:
    def prepare(tmp: Path) -> str:
        for i in range(length):
            (tmp / "project" / f"c{i}.orch").write_text(f'include "c{i + 1}.orch"\n', encoding="utf-8")
        (tmp / "project" / f"c{length}.orch").write_text("", encoding="utf-8")
        return HEAD + 'include "c0.orch"\n'
    return prepare


def _bytes(data: bytes) -> Callable[[Path], str]:
    """A top file that is not built from text (a byte-order mark, bytes that are not UTF-8)."""
    def prepare(tmp: Path) -> str:
        (tmp / "project" / "top.orch").write_bytes(data)
        return ""
    return prepare


def _out(make: Callable[[Path], None], compiled_first: bool = False) -> Callable[[Path], str]:
    """A clean spec, and an output folder that ``make`` damages (after a first compile)."""
    def prepare(tmp: Path) -> str:
        (tmp / "project" / "top.orch").write_text(HEAD, encoding="utf-8")
        if compiled_first:
            assert main(["compile", str(tmp / "project" / "top.orch"), "-o", str(tmp / "out")]) == 0
        (tmp / "out").mkdir(exist_ok=True)
        make(tmp)
        return HEAD
    return prepare


def _symlink_out(rel: str, target: str) -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        path = tmp / "out" / rel
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(tmp / target)
    return make


def _fifo_out(rel: str) -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        os.mkfifo(tmp / "out" / rel)
    return make


def _file_out(tmp: Path) -> None:
    (tmp / "out").rmdir()
    (tmp / "out").write_text("a file, not a folder\n", encoding="utf-8")


LONG = "d" * 97  # `{LONG}-100`, the id of its hundredth agent, has 101 characters
BIG_DOMAIN = f"""role big-lead {{ title "Lead" reports_to cto }}
role {LONG} {{ title "Dev" reports_to big-lead }}
domain big {{ lead big-lead member {LONG} x100 {{ experience mid }} }}
"""

CASES: dict[str, Case] = {
    # names that become paths (ORC114): checked, and never compiled
    "channel-dotdot": Case(HEAD + 'broadcast { channel "../../../../x" { members * } }\n', "check", 1, "ORC114"),
    "channel-dotdot-compile": Case(HEAD + 'broadcast { channel "../../../../x" { members * } }\n',
                                   "compile", 1, "ORC114"),
    "channel-absolute": Case(HEAD + 'broadcast { channel "/tmp/x" { members * } }\n', "compile", 1, "ORC114"),
    "channel-template": Case(HEAD + 'broadcast { channel "{domain}/../../x" { members @lead } }\n',
                             "compile", 1, "ORC114"),
    "role-underscore": Case(HEAD + 'role _x { title "X" reports_to cto }\n', "compile", 1, "ORC114"),
    "role-reserved": Case(HEAD + 'role aux { title "X" reports_to cto }\n', "compile", 1, "ORC114"),
    "agent-id-too-long": Case(HEAD + BIG_DOMAIN, "compile", 1, "ORC114"),
    "domain-reserved": Case(HEAD + 'role nl { title "L" reports_to cto }\nrole nd { title "D" reports_to nl }\n'
                            "domain NUL { lead nl member nd }\n", "compile", 1, "ORC114"),
    "standup-underscore": Case(HEAD + "standup _daily { from @member to @lead every 1d sections done }\n",
                               "compile", 1, "ORC114"),
    "gate-underscore": Case(HEAD + "gate _g { reviewer @peer guards REVIEW -> DONE outcome ok: pass }\n",
                            "compile", 1, "ORC114"),
    # includes leave the project: refused before the file is opened (ORC009)
    "include-absolute": Case(lambda tmp: HEAD + f'include "{tmp / "sentinel" / "secret.orch"}"\n',
                             "check", 1, "ORC009"),
    "include-dotdot": Case(HEAD + 'include "../sentinel/secret.orch"\n', "check", 1, "ORC009"),
    "include-link-out": Case(_link("link.orch", lambda tmp: tmp / "sentinel" / "secret.orch",
                                   HEAD + 'include "link.orch"\n'), "check", 1, "ORC009"),
    "include-etc-passwd": Case(HEAD + 'include "/etc/passwd"\n', "check", 1, "ORC009"),
    "include-dev-zero": Case(HEAD + 'include "/dev/zero"\n', "check", 1, "ORC009"),
    "include-link-dev-zero": Case(_link("zero.orch", "/dev/zero", HEAD + 'include "zero.orch"\n'),
                                  "check", 1, "ORC009"),
    # only regular files, of bounded size, at bounded depth
    "include-folder": Case(_folder("teams", HEAD + 'include "teams"\n'), "check", 1, "ORC010"),
    "include-huge": Case(_sparse("huge.orch", MAX_FILE_BYTES + 1, HEAD + 'include "huge.orch"\n'),
                         "check", 1, "ORC011"),
    "includes-over-total": Case(_comment_files(3, MAX_TOTAL_BYTES // 2 - 1024), "check", 1, "ORC011"),
    "include-chain-1500": Case(_chain(1500), "check", 1, "ORC012"),
    "not-utf8": Case(_bytes(HEAD.encode() + b'role r { title "\xff\xfe" reports_to cto }\n'), "check", 1, "ORC003"),
    # control characters in strings never reach the output (ORC013)
    "string-nul": Case(HEAD + 'role r { title "a\x00b" reports_to cto }\n', "compile", 1, "ORC013"),
    "string-esc": Case(HEAD + 'role r { title "a\x1b[2J\x1b]0;owned\x07" reports_to cto }\n', "compile", 1, "ORC013"),
    "string-c1": Case(HEAD + 'role r { description "a\x9bb" reports_to cto }\n', "compile", 1, "ORC013"),
    "string-bidi": Case(HEAD + 'role r { title "a\u202eb" reports_to cto }\n', "compile", 1, "ORC013"),
    "string-carriage-return": Case(HEAD + 'role r { title "a\rb" reports_to cto }\n', "compile", 1, "ORC013"),
    # guards and numbers are bounded (ORC321, ORC902)
    "guard-500-ands": Case(GUARDED.format(guard=" and ".join(["tier == 1"] * 500)), "compile", 1, "ORC321"),
    "guard-1000-nots": Case(GUARDED.format(guard="not " * 1000 + "tier == 1"), "compile", 1, "ORC321"),
    "guard-5000-deep": Case(GUARDED.format(guard="not (" * 5000 + "tier == 1" + ")" * 5000), "compile", 1,
                            "ORC321"),
    "guard-deep-mixed": Case(GUARDED.format(guard="(tier == 1 and " * MAX_DEPTH + "tier == 1"
                                            + ")" * MAX_DEPTH), "compile", 1, "ORC321"),
    "guard-309-digits": Case(GUARDED.format(guard="tier == " + "9" * 309), "compile", 1, "ORC902"),
    "guard-5000-digits": Case(GUARDED.format(guard="tier < " + "9" * 5000 + ".5"), "compile", 1, "ORC902"),
    "duration-400-digits": Case(HEAD + "capacity { hours_per_day 8 horizon " + "9" * 400 + "d }\n", "compile", 1,
                                "ORC902"),
    "duration-beyond-calendar": Case(HEAD + "capacity { hours_per_day 8 horizon 40000d }\n", "compile", 1,
                                     "ORC902"),
    "count-huge": Case(HEAD.replace('"base_flow.orch"', '"base.orch"')
                       + "role x { title \"X\" reports_to api-lead }\n"
                       "domain xs { lead api-lead member x x99999999999999999999 }\n", "check", 1, "ORC902"),
    # output folders: a link or a special file where compilation writes is refused (exit 2)
    "out-subfolder-link": Case(_out(_symlink_out("agents", "sentinel")), "compile", 2, "symbolic link"),
    "out-subfolder-link-check": Case(_out(_symlink_out("agents", "sentinel")), "compile --check", 2,
                                     "symbolic link"),
    "out-nested-link": Case(_out(_symlink_out("Agent_Memory/_communication/inbox", "sentinel")), "compile", 2,
                            "symbolic link"),
    "out-file-link": Case(_out(_symlink_out("model.json", "sentinel/secret.orch")), "compile", 2,
                          "symbolic link"),
    "out-relinked-after-compile": Case(_out(_symlink_out("agents", "sentinel"), compiled_first=True), "compile",
                                       2, "symbolic link"),
    "out-stale-link": Case(_out(_symlink_out("agents/old.md", "sentinel/secret.orch"), compiled_first=True),
                           "compile", 2, "symbolic link"),
    "out-is-a-file": Case(_out(_file_out), "compile", 2, "not a folder"),
}

# cases that could block a careless reader: a subprocess with a timeout
BLOCKING: dict[str, Case] = {
    "include-fifo": Case(lambda tmp: (os.mkfifo(tmp / "project" / "pipe.orch"), HEAD + 'include "pipe.orch"\n')[1],
                         "check", 1, "ORC010"),
    "top-fifo": Case(lambda tmp: (os.mkfifo(tmp / "project" / "top.orch"), "")[1], "check", 1, "ORC010"),
    "top-dev-zero": Case(HEAD, "check /dev/zero", 1, "ORC010"),
    "out-fifo": Case(_out(_fifo_out("model.json")), "compile", 2, "not a regular file"),
    "out-fifo-check": Case(_out(_fifo_out("model.json")), "compile --check", 2, "not a regular file"),
}


# ---------------------------------------------------------------- the folder, before and after


def snapshot(root: Path, skip: str | None = "out") -> dict[str, tuple[object, ...]]:
    """Every entry below ``root`` (but ``skip``): its kind and content, links not followed."""
    seen: dict[str, tuple[object, ...]] = {}
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if here == root and skip in dirs:
            dirs.remove(skip)
        for name in dirs + files:
            path = here / name
            rel = path.relative_to(root).as_posix()
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                seen[rel] = ("link", os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                seen[rel] = ("file", st.st_size, hashlib.sha256(path.read_bytes()).hexdigest())
            else:
                seen[rel] = ("other", stat.S_IFMT(st.st_mode))
    return seen


def prepare(tmp: Path, case: Case) -> list[str]:
    project = tmp / "project"
    project.mkdir()
    for base in ("base.orch", "base_flow.orch"):
        shutil.copy(PAGES / base, project / base)
    (tmp / "sentinel").mkdir()
    (tmp / "sentinel" / "secret.orch").write_text(SECRET + "\n", encoding="utf-8")
    (tmp / "sentinel" / "old.md").write_text("not produced by any spec\n", encoding="utf-8")
    text = case.spec(tmp) if callable(case.spec) else case.spec
    top = project / "top.orch"
    if text and not top.exists():
        top.write_text(text, encoding="utf-8")
    command, *rest = case.command.split()
    if command == "check":
        return ["check", "--format", "short", *(rest or [str(top)])]
    return ["compile", *rest, str(top), "-o", str(tmp / "out")]


def assert_contained(tmp: Path, before: dict[str, tuple[object, ...]], out_before: dict[str, tuple[object, ...]],
                     refused: bool) -> None:
    assert snapshot(tmp) == before, "something outside the output folder changed"
    if refused and os.path.lexists(tmp / "out"):
        assert snapshot(tmp / "out", None) == out_before, "a refused command changed the output folder"
    if os.path.isdir(tmp / "out") and not os.path.islink(tmp / "out"):
        temporary = [p for p in snapshot(tmp / "out", None) if p.endswith(".tmp")]
        assert not temporary, temporary


def assert_clear(case: Case, code: int, output: str) -> None:
    assert code == case.exit, output
    assert case.code in output, output
    assert "Traceback" not in output and "internal error" not in output, output
    assert SECRET not in output
    assert "root:x:0" not in output  # the first line of /etc/passwd
    assert not any(c in output for c in "\x00\x1b\x07\x9b\u202e\r"), repr(output)


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_input_gives_a_coded_error_and_changes_nothing_outside(
        name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = CASES[name]
    argv = prepare(tmp_path, case)
    capsys.readouterr()
    before, out_before = snapshot(tmp_path), snapshot(tmp_path / "out", None) if (tmp_path / "out").is_dir() else {}
    code = main(argv)
    out, err = capsys.readouterr()
    assert_clear(case, code, out + err)
    assert_contained(tmp_path, before, out_before, refused=True)
    if case.command == "compile" and case.exit == 1:
        assert not os.path.lexists(tmp_path / "out"), "a refused spec was compiled"


@pytest.mark.parametrize("name", sorted(BLOCKING))
def test_special_files_are_never_opened(name: str, tmp_path: Path) -> None:
    case = BLOCKING[name]
    argv = prepare(tmp_path, case)
    before, out_before = snapshot(tmp_path), snapshot(tmp_path / "out", None) if (tmp_path / "out").is_dir() else {}
    env = {k: v for k, v in os.environ.items() if k not in ("ORCHDSL_DEBUG", "NO_COLOR")}
    done = subprocess.run([sys.executable, "-m", "orchdsl", *argv], capture_output=True, text=True,
                          timeout=120, env=env, cwd=tmp_path)
    assert_clear(case, done.returncode, done.stdout + done.stderr)
    assert_contained(tmp_path, before, out_before, refused=True)


# ---------------------------------------------------------------- what must still work


def test_a_byte_order_mark_is_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = prepare(tmp_path, Case(_bytes(b"\xef\xbb\xbf" + HEAD.encode()), "compile", 0, ""))
    before = snapshot(tmp_path)
    assert main(argv) == 0, capsys.readouterr()
    assert snapshot(tmp_path) == before
    assert (tmp_path / "out" / "model.json").is_file()
    assert not [p for p in snapshot(tmp_path / "out", None) if p.endswith(".tmp")]


@pytest.mark.parametrize("kind", ["and", "not", "in"])
def test_a_guard_at_the_contracts_limits_compiles_and_loads_one_more_is_refused(
        kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The checker counts a guard as the runtime's contract does: the largest guard it accepts
    loads in the runtime, and one level or node more is ORC321."""
    from orchdsl_runtime import load_model
    from orchdsl_runtime.contract.guards import MAX_NODES

    def guard(n: int) -> str:
        if kind == "and":  # n comparisons: n - 1 `and`s, a comparison, a name: n + 1 levels
            return " and ".join(["tier == 1"] * n)
        if kind == "not":  # n `not`s, a comparison, a name: n + 2 levels
            return "not " * n + "tier == 1"
        # `in` and its list, the variable and n values: n + 3 nodes
        return "tier in [" + ", ".join(["1"] * n) + "]"

    at_limit = {"and": MAX_DEPTH - 1, "not": MAX_DEPTH - 2, "in": MAX_NODES - 3}[kind]
    for n, ok in ((at_limit, True), (at_limit + 1, False)):
        (tmp_path / str(n)).mkdir()
        argv = prepare(tmp_path / str(n), Case(GUARDED.format(guard=guard(n)), "compile", 0, ""))
        code = main(argv)
        out, err = capsys.readouterr()
        if ok:
            assert code == 0, out + err
            load_model(tmp_path / str(n) / "out" / "model.json")
        else:
            assert code == 1 and "ORC321" in err, out + err


def test_every_number_the_parser_accepts_is_a_constant_the_runtime_accepts() -> None:
    from orchdsl_runtime.contract.guards import MAX_CONST

    from orchdsl.parser import MAX_DIGITS

    assert 10**MAX_DIGITS <= MAX_CONST


def test_temporary_files_a_killed_compile_left_are_removed(tmp_path: Path) -> None:
    argv = prepare(tmp_path, Case(HEAD, "compile", 0, ""))
    assert main(argv) == 0
    left = [tmp_path / "out" / ".model.json.k1ll3d.tmp", tmp_path / "out" / "agents" / ".cto.md.k1ll3d.tmp"]
    for path in left:
        path.write_text("half a file", encoding="utf-8")
    assert main(argv) == 0
    assert not any(p.exists() for p in left)
    assert not [p for p in snapshot(tmp_path / "out", None) if p.endswith(".tmp")]


def test_links_inside_the_project_and_to_the_output_root_are_followed(tmp_path: Path) -> None:
    """An include through a link that stays inside the project is read, and the output folder
    itself may be reached through a link: it is what the user named."""
    project = tmp_path / "project"
    project.mkdir()
    for base in ("base.orch", "base_flow.orch"):
        shutil.copy(PAGES / base, project / base)
    (project / "flow.orch").symlink_to(project / "base_flow.orch")
    (project / "top.orch").write_text('org example\ninclude "flow.orch"\n', encoding="utf-8")
    (tmp_path / "real-out").mkdir()
    (tmp_path / "out").symlink_to(tmp_path / "real-out")
    assert main(["compile", str(project / "top.orch"), "-o", str(tmp_path / "out")]) == 0
    assert (tmp_path / "real-out" / "model.json").is_file()


@pytest.mark.parametrize("fmt", ["human", "short", "json", "github"])
def test_diagnostics_are_capped_per_file_in_every_format(
        fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    extra = 25
    spec = tmp_path / "dups.orch"
    # a role declared once and then again, MAX_PER_FILE + extra times
    spec.write_text(HEAD + "".join(f'role dup {{ title "Dup {i}" reports_to cto }}\n'
                                   for i in range(MAX_PER_FILE + extra + 1)), encoding="utf-8")
    shutil.copy(PAGES / "base.orch", tmp_path)
    shutil.copy(PAGES / "base_flow.orch", tmp_path)
    assert main(["check", "--format", fmt, str(spec)]) == 1
    out, err = capsys.readouterr()
    # the duplicates, and the warning that nothing refers to `dup`
    more = f"and {extra + 1} more in `{spec}` ({extra} errors, 1 warning) not shown"
    assert more in out
    if fmt == "short":
        assert len(out.splitlines()) == MAX_PER_FILE + 1
    if fmt == "github":
        assert out.splitlines()[-1].startswith(f"::notice file={spec},title=more diagnostics::and {extra + 1} more")
    if fmt == "json":
        import json

        data = json.loads(out)
        assert len(data["diagnostics"]) == MAX_PER_FILE
        assert data["errors"] == MAX_PER_FILE + extra  # the counts are of every diagnostic
        assert data["omitted"] == [{"file": str(spec), "errors": extra, "warnings": 1, "message": more
                                    + "; fix these and check again"}]
    if fmt == "human":
        assert out.count("error[ORC101]") == MAX_PER_FILE
        assert err.strip().endswith(f"{MAX_PER_FILE + extra} errors, 1 warning")
