"""The command line's authoring tools and conventions: `orchdsl fmt`, `-` for
standard input, `--format json` and `sarif` for usage and I/O errors, `--quiet`,
and `NO_COLOR`. In-process through ``orchdsl.cli.main`` from the repository root,
and in subprocesses where standard input or a terminal matters.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli import at_root, run  # noqa: F401  (the same fixture and helper)

from orchdsl.cli import main

ROOT = Path(__file__).resolve().parent.parent
V2 = "specs/orchestration_v2.orch"
CLEAN = "examples/startup.orch"
BAD = "examples/bad/twelve_mistakes.orch"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
MESSY = 'role boss{title "Boss"}\nrole dev {  title "Dev" reports_to boss }   # the IC\n'
TIDY = 'role boss { title "Boss" }\nrole dev { title "Dev" reports_to boss }  # the IC\n'


def orchdsl(*argv: str, stdin: str | None = None, cwd: Path = ROOT,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "ORCHDSL_DEBUG")}
    return subprocess.run([sys.executable, "-m", "orchdsl", *argv], input=stdin, cwd=cwd,
                          env={**base, **(env or {})}, capture_output=True, text=True, timeout=120)


# ---------------------------------------------------------------- fmt


def test_fmt_rewrites_a_file_and_keeps_its_mode(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = tmp_path / "org.orch"
    spec.write_text(MESSY, encoding="utf-8")
    spec.chmod(0o640)
    code, out, err = run(capsys, "fmt", str(spec))
    assert code == 0 and out == ""
    assert f"reformatted {spec}" in err
    assert spec.read_text(encoding="utf-8") == TIDY
    assert stat.S_IMODE(spec.stat().st_mode) == 0o640
    assert not [p for p in tmp_path.iterdir() if p.name != "org.orch"], "a temporary file was left"
    code, out, err = run(capsys, "fmt", str(spec))
    assert code == 0 and "0 files reformatted, 1 already formatted" in err


def test_fmt_check_prints_a_diff_and_writes_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = tmp_path / "org.orch"
    spec.write_text(MESSY, encoding="utf-8")
    code, out, err = run(capsys, "fmt", "--check", str(spec))
    assert code == 1
    assert out.startswith(f"--- {spec}\n+++ {spec} (formatted)\n")
    assert '-role boss{title "Boss"}' in out and '+role boss { title "Boss" }' in out
    assert not ANSI.search(out)
    assert "1 file would be reformatted" in err
    assert spec.read_text(encoding="utf-8") == MESSY
    spec.write_text(TIDY, encoding="utf-8")
    assert run(capsys, "fmt", "--check", str(spec))[:2] == (0, "")


def test_fmt_check_of_the_repository(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "fmt", "--check", "specs", "examples")
    assert (code, out) == (0, "")
    assert re.search(r"0 files would be reformatted, \d+ already formatted", err)


def test_fmt_of_a_directory_takes_every_spec_below_it(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / ".hidden").mkdir()
    for p in (tmp_path / "one.orch", tmp_path / "a" / "two.orch", tmp_path / ".hidden" / "three.orch"):
        p.write_text(MESSY, encoding="utf-8")
    (tmp_path / "notes.txt").write_text(MESSY, encoding="utf-8")
    code, _, err = run(capsys, "fmt", str(tmp_path))
    assert code == 0 and "2 files reformatted" in err
    assert (tmp_path / "one.orch").read_text(encoding="utf-8") == TIDY
    assert (tmp_path / "a" / "two.orch").read_text(encoding="utf-8") == TIDY
    assert (tmp_path / ".hidden" / "three.orch").read_text(encoding="utf-8") == MESSY
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == MESSY


def test_fmt_reports_syntax_errors_and_leaves_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad, good = tmp_path / "bad.orch", tmp_path / "good.orch"
    bad.write_text("role x { title }\n", encoding="utf-8")
    good.write_text(MESSY, encoding="utf-8")
    code, out, err = run(capsys, "fmt", str(bad), str(good))
    assert code == 1 and out == ""
    assert "error[ORC001]: unexpected `}`" in err and f"{bad}:1:16" in err
    assert bad.read_text(encoding="utf-8") == "role x { title }\n"
    assert good.read_text(encoding="utf-8") == TIDY, "the other file is still formatted"
    assert "1 not formatted (syntax errors)" in err


def test_fmt_quiet(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = tmp_path / "org.orch"
    spec.write_text(MESSY, encoding="utf-8")
    assert run(capsys, "fmt", "-q", str(spec)) == (0, "", "")
    assert spec.read_text(encoding="utf-8") == TIDY


def test_fmt_missing_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "fmt", "no/such.orch")
    assert (code, out) == (2, "") and "no such file: no/such.orch" in err


def test_fmt_stdin_to_stdout() -> None:
    proc = orchdsl("fmt", "-", stdin=MESSY)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, TIDY, "")
    proc = orchdsl("fmt", "--check", "-", stdin=MESSY)
    assert proc.returncode == 1 and proc.stdout.startswith("--- <stdin>\n")
    proc = orchdsl("fmt", "-", stdin="role x {\n")
    assert proc.returncode == 1 and proc.stdout == "" and "error[ORC001]" in proc.stderr


def test_fmt_diff_colour_follows_color_and_no_color(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "org.orch"
    spec.write_text(MESSY, encoding="utf-8")
    _, out, _ = run(capsys, "fmt", "--check", "--color", "always", str(spec))
    assert ANSI.search(out)
    assert ANSI.sub("", out) == run(capsys, "fmt", "--check", str(spec))[1]
    monkeypatch.setenv("NO_COLOR", "1")
    assert not ANSI.search(run(capsys, "fmt", "--check", "--color", "auto", str(spec))[1])


# ---------------------------------------------------------------- standard input


def test_check_reads_standard_input() -> None:
    proc = orchdsl("check", "--format", "short", "-", stdin=(ROOT / BAD).read_text(encoding="utf-8"))
    assert proc.returncode == 1
    assert "<stdin>:63:14: error[ORC102]: unknown role `tech-laed`" in proc.stdout
    clean = orchdsl("check", "-", stdin=(ROOT / CLEAN).read_text(encoding="utf-8"))
    assert clean.returncode == 0 and clean.stderr == "<stdin>: no problems found\n"


def test_standard_input_includes_are_read_from_the_working_directory() -> None:
    text = (ROOT / "examples" / "token_budget.orch").read_text(encoding="utf-8")
    assert 'include "shared/' in text
    assert orchdsl("check", "-", stdin=text, cwd=ROOT / "examples").returncode == 0
    proc = orchdsl("check", "--format", "short", "-", stdin=text, cwd=ROOT)
    assert proc.returncode == 1
    assert re.search(r"<stdin>:\d+:\d+: error\[ORC003\]: cannot read `shared/base_org.orch`", proc.stdout)


def test_standard_input_can_be_read_once(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", "-", "-")
    assert code == 2 and "standard input (`-`) can be read once" in err


def test_compile_and_graph_read_standard_input(tmp_path: Path) -> None:
    text = (ROOT / V2).read_text(encoding="utf-8")
    proc = orchdsl("compile", "-", "-o", str(tmp_path / "out"), stdin=text)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "model.json").is_file()
    proc = orchdsl("graph", "-", "--view", "hierarchy", stdin=text)
    assert proc.returncode == 0 and proc.stdout.startswith("flowchart TB\n")


# ---------------------------------------------------------------- machine-readable failures


@pytest.mark.parametrize("argv, kind", [
    (["check", "--format", "json", "no/such.orch"], "io"),
    (["check", "--format", "json", "specs"], "io"),
    (["check", "--format", "json", "--bogus", V2], "usage"),
    (["check", "--format=json", "-", "-"], "usage"),
    (["check", "--format", "json"], "usage"),
], ids=["missing", "directory", "unknown-option", "stdin-twice", "no-files"])
def test_json_format_reports_usage_and_io_errors_as_json(
    capsys: pytest.CaptureFixture[str], argv: list[str], kind: str
) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert code == 2
    data = json.loads(out)
    assert data["exit_code"] == 2 and data["failure"]["kind"] == kind
    assert data["failure"]["message"]
    assert err == ""


def test_json_format_reports_internal_errors_as_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import orchdsl.pipeline

    def explode(paths: list[Path]) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(orchdsl.pipeline, "check_files", explode)
    code, out, err = run(capsys, "check", "--format", "json", V2)
    assert code == 3
    assert json.loads(out) == {"failure": {"kind": "internal", "message": "internal error: RuntimeError: boom"},
                               "exit_code": 3}
    assert "Traceback" not in err


def test_compile_json_failures_go_where_its_diagnostics_go(capsys: pytest.CaptureFixture[str],
                                                           tmp_path: Path) -> None:
    code, out, err = run(capsys, "compile", "--format", "json", "nope.orch", "-o", str(tmp_path))
    assert code == 2 and out == ""
    assert json.loads(err)["failure"]["kind"] == "io"


def test_the_human_format_keeps_plain_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", "no/such.orch")
    assert (code, out, err) == (2, "", "orchdsl: no such file: no/such.orch\n")


# ---------------------------------------------------------------- quiet, colour, help


def test_quiet_check_prints_diagnostics_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "check", "-q", CLEAN) == (0, "", "")
    code, out, err = run(capsys, "check", "-q", V2)
    assert code == 0 and out.startswith("warning[ORC328]") and out.count("warning[") == 1 and err == ""
    code, out, err = run(capsys, "check", "--quiet", BAD)
    assert code == 1 and "error[ORC102]" in out and err == ""


def test_quiet_compile(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(capsys, "compile", "-q", CLEAN, "-o", str(tmp_path / "out")) == (0, "", "")
    assert run(capsys, "compile", "-q", "--check", CLEAN, "-o", str(tmp_path / "out")) == (0, "", "")
    code, out, err = run(capsys, "compile", "-q", V2, "-o", str(tmp_path / "v2"))
    assert code == 0 and out == "" and err.startswith("warning[ORC328]") and err.count("warning[") == 1


def test_compile_diagnostics_follow_no_color(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    assert ANSI.search(run(capsys, "compile", "--color", "always", BAD, "-o", str(tmp_path))[2])
    monkeypatch.setenv("NO_COLOR", "1")
    assert not ANSI.search(run(capsys, "compile", BAD, "-o", str(tmp_path))[2])


def test_no_color_in_a_terminal() -> None:
    """In a real terminal, colour is on unless NO_COLOR is set (a pseudo-terminal as stdout)."""
    import pty

    def in_tty(env: dict[str, str]) -> str:
        leader, follower = pty.openpty()
        base = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
        proc = subprocess.Popen([sys.executable, "-m", "orchdsl", "check", BAD], cwd=ROOT,
                                stdout=follower, stderr=follower, env={**base, **env})
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.wait(timeout=60)
        os.close(leader)
        return b"".join(chunks).decode("utf-8", "replace")

    assert ANSI.search(in_tty({}))
    assert not ANSI.search(in_tty({"NO_COLOR": "1"}))


def test_help_lists_the_tools() -> None:
    proc = orchdsl("--help")
    assert proc.returncode == 0
    for command in ("fmt", "graph", "lsp"):
        assert re.search(rf"^\s+{command}\b", proc.stdout, re.M), f"{command} not in --help"
    assert "NO_COLOR" in proc.stdout and "standard input" in proc.stdout


def test_the_command_line_offers_every_rendering() -> None:
    from orchdsl import cli, render

    assert cli.DIAGNOSTIC_FORMATS == render.FORMATS
