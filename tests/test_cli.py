"""The command line: exit codes, output formats, colour, `--help` and compile.

Most tests call ``orchdsl.cli.main`` in-process from the repository root (so
paths in output are repository-relative); a few run the installed command in
a subprocess, where TTY detection and imports are those of a real run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from orchdsl.cli import main

ROOT = Path(__file__).resolve().parent.parent
V2 = "specs/orchestration_v2.orch"
BAD = "examples/bad/twelve_mistakes.orch"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

BROKEN_SPEC = """\
org broken
role boss { title "Boss" }
role worker { title "Worker" reports_to bos }
"""

# Clean but for one warning: `cobol` is declared and nobody holds it.
WARNED_SPEC = """\
org warned
skills {
  levels { beginner = 1, expert = 2 }
  category languages { python, cobol }
}
experience { junior = 1, senior = 2 }
role boss { title "Boss" }
role lead { title "Lead" reports_to boss }
role dev { title "Dev" reports_to lead }
domain core {
  lead lead
  member dev x2 { experience senior skills { python: expert } }
}
lifecycle task {
  tiers 1
  state OPEN { initial owner @lead -> DONE by @assignee }
  state DONE { terminal success }
}
tier 0 "Trivial" { flow boss:answer }
tier 1 "Task" { flow @lead:delegation -> @assignee:execution }
standup daily { from @member to @lead every 1d sections done }
standup leads { from @lead to boss every 1w sections progress }
assignment { weight skill_match 1.0 fit simple: junior, high: senior fallback escalate to boss }
"""


@pytest.fixture(autouse=True)
def at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("ORCHDSL_DEBUG", raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    env.pop("ORCHDSL_DEBUG", None)
    return env


# ---------------------------------------------------------------- exit codes


def test_clean_spec_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", V2)
    assert code == 0
    assert "error[" not in out
    assert err.strip().startswith(V2)


def test_bad_spec_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = tmp_path / "broken.orch"
    spec.write_text(BROKEN_SPEC, encoding="utf-8")
    code, out, _ = run(capsys, "check", "--format", "short", str(spec))
    assert code == 1
    assert f"{spec}:3:41: error[ORC102]: unknown role `bos`" in out


def test_warnings_only_exit_0_unless_denied(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = tmp_path / "warned.orch"
    spec.write_text(WARNED_SPEC, encoding="utf-8")
    code, out, err = run(capsys, "check", "--format", "short", str(spec))
    assert code == 0
    assert re.fullmatch(rf"{re.escape(str(spec))}:4:\d+: warning\[ORC802\]: skill `cobol` [^\n]*\n", out), out
    assert err == ""
    code, _, err = run(capsys, "check", str(spec))
    assert code == 0 and err.endswith(": 1 warning\n")
    assert run(capsys, "check", "--deny-warnings", str(spec))[0] == 1


def test_unused_skill_points_at_the_skill(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = tmp_path / "warned.orch"
    spec.write_text(WARNED_SPEC, encoding="utf-8")
    _, out, _ = run(capsys, "check", "--format", "short", str(spec))
    assert out.startswith(f"{spec}:4:32: warning[ORC802]")  # `cobol`, not its category


def test_twelve_mistakes_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", BAD)
    assert code == 1
    assert "error[" in out
    assert re.search(r"\d+ errors?", err)


def test_several_files_one_bad_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--format", "short", V2, BAD)
    assert code == 1
    errors = [line for line in out.splitlines() if ": error[" in line]
    assert errors and all(line.startswith(BAD) for line in errors)


def test_missing_file_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", "no/such/file.orch")
    assert code == 2
    assert out == ""
    assert "no such file" in err and "no/such/file.orch" in err


def test_directory_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "check", "specs")
    assert code == 2
    assert "directory" in err


def test_compile_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "compile", "nope.orch", "-o", str(tmp_path / "out"))
    assert code == 2
    assert "nope.orch" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["check"],
        ["check", "--format", "xml", V2],
        ["compile", V2],  # no -o
        ["frobnicate"],
        ["check", "--color", "sometimes", V2],
    ],
    ids=["no-files", "bad-format", "no-output", "unknown-command", "bad-color"],
)
def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_no_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys)
    assert code == 2
    assert "usage:" in out


def test_internal_error_exits_3_without_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import orchdsl.pipeline

    def explode(paths: list[Path]) -> None:
        raise RuntimeError("the lowering stage fell over")

    monkeypatch.setattr(orchdsl.pipeline, "check_files", explode)
    code, out, err = run(capsys, "check", V2)
    assert code == 3
    assert "internal error" in err and "the lowering stage fell over" in err
    assert "Traceback" not in err + out


def test_internal_error_in_compile_exits_3(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import orchdsl.compile

    def explode(*args: object, **kwargs: object) -> None:
        raise KeyError("template")

    monkeypatch.setattr(orchdsl.compile, "compile_to_dir", explode)
    code, _, err = run(capsys, "compile", V2, "-o", str(tmp_path / "out"))
    assert code == 3
    assert "internal error" in err and "Traceback" not in err


def test_exit_codes_in_a_subprocess(tmp_path: Path) -> None:
    exe = [sys.executable, "-m", "orchdsl"]
    env = subprocess_env()
    results = {}
    for label, argv in {
        "clean": ["check", V2],
        "bad": ["check", BAD],
        "missing": ["check", "missing.orch"],
        "usage": ["check", "--format", "xml", V2],
    }.items():
        proc = subprocess.run([*exe, *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=60)
        assert "Traceback" not in proc.stderr, proc.stderr
        results[label] = proc.returncode
    assert results == {"clean": 0, "bad": 1, "missing": 2, "usage": 2}


# ---------------------------------------------------------------- formats


def test_short_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--format", "short", BAD)
    assert code == 1
    lines = out.splitlines()
    assert lines
    for line in lines:
        assert re.match(rf"^{re.escape(BAD)}:\d+:\d+: (error|warning)\[ORC\d{{3}}\]: \S", line), line


def test_json_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--format", "json", BAD)
    assert code == 1
    data = json.loads(out)
    diags = data["diagnostics"]
    assert diags and data["errors"] == sum(d["severity"] == "error" for d in diags)
    for d in diags:
        assert re.fullmatch(r"ORC\d{3}", d["code"])
        assert d["span"]["file"] == BAD
        assert d["span"]["line"] >= 1 and d["span"]["column"] >= 1
        assert d["message"]


def test_json_format_of_a_clean_spec(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", "--format", "json", V2)
    assert code == 0
    assert json.loads(out)["errors"] == 0
    assert err == ""  # nothing but JSON, and nothing else on stderr either


def test_github_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--format", "github", BAD)
    assert code == 1
    lines = out.splitlines()
    assert lines
    for line in lines:
        assert line.startswith(("::error ", "::warning ")), line
        assert f"file={BAD}," in line
        assert re.search(r",line=\d+,", line) and re.search(r",col=\d+,", line)
        assert "\n" not in line


def test_human_format_has_snippet_and_carets_without_colour(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", BAD)  # capsys is not a TTY
    assert code == 1
    assert not ANSI.search(out)
    assert "error[ORC102]: unknown role `tech-laed`" in out
    assert f"--> {BAD}:63:14" in out
    assert "reports_to tech-laed" in out
    snippet = out.splitlines()
    i = next(n for n, line in enumerate(snippet) if "reports_to tech-laed" in line)
    caret_line = snippet[i + 1]
    # The carets sit exactly under the unknown name.
    source_col = snippet[i].index("tech-laed")
    assert caret_line[source_col : source_col + len("tech-laed")] == "^" * len("tech-laed")
    assert "did you mean `tech-lead`?" in out


def test_human_format_with_colour_always(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--color", "always", BAD)
    assert code == 1
    assert ANSI.search(out)
    plain = ANSI.sub("", out)
    assert "error[ORC102]: unknown role `tech-laed`" in plain


def test_no_color_environment_turns_colour_off(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    _, out, _ = run(capsys, "check", "--color", "auto", BAD)
    assert not ANSI.search(out)


def test_human_format_in_a_subprocess_has_no_colour() -> None:
    proc = subprocess.run([sys.executable, "-m", "orchdsl", "check", BAD], cwd=ROOT,
                          env=subprocess_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "^" in proc.stdout and not ANSI.search(proc.stdout + proc.stderr)


# ---------------------------------------------------------------- help and imports


def test_help_lists_the_commands() -> None:
    proc = subprocess.run([sys.executable, "-m", "orchdsl", "--help"], cwd=ROOT, env=subprocess_env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for command in ("check", "compile", "run", "explain"):
        assert re.search(rf"^\s+{command}\b", proc.stdout, re.M), f"{command} not in --help"


def test_the_cli_does_not_import_heavy_modules() -> None:
    probe = (
        "import sys, orchdsl.cli\n"
        "orchdsl.cli._parser().format_help()\n"
        "heavy = ('lark', 'pydantic', 'networkx', 'jinja2')\n"
        "print(' '.join(m for m in heavy if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=subprocess_env(),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"imported by `orchdsl --help`: {proc.stdout.strip()}"


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert re.fullmatch(r"orchdsl \S+\n", out)


# ---------------------------------------------------------------- compile


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_compile_writes_then_writes_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    code, out, _ = run(capsys, "compile", V2, "-o", str(out_dir))
    assert code == 0
    files = tree(out_dir)
    assert "model.json" in files
    total = len(files)
    assert f"wrote {total} of {total} files" in out
    mtimes = {p: p.stat().st_mtime_ns for p in out_dir.rglob("*") if p.is_file()}
    code, out, _ = run(capsys, "compile", V2, "-o", str(out_dir))
    assert code == 0
    assert f"wrote 0 of {total} files" in out
    assert tree(out_dir) == files
    assert {p: p.stat().st_mtime_ns for p in out_dir.rglob("*") if p.is_file()} == mtimes


def test_compile_check(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    code, out, _ = run(capsys, "compile", V2, "-o", str(out_dir), "--check")
    assert code == 1, "an empty directory is out of date"
    assert "missing: model.json" in out
    assert not out_dir.exists() or not any(out_dir.rglob("*")), "--check wrote files"

    assert run(capsys, "compile", V2, "-o", str(out_dir))[0] == 0
    code, out, _ = run(capsys, "compile", V2, "-o", str(out_dir), "--check")
    assert code == 0 and "up to date" in out

    # An edited file makes it out of date, and --check does not repair it.
    model = out_dir / "model.json"
    model.write_text(model.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    code, out, _ = run(capsys, "compile", V2, "-o", str(out_dir), "--check")
    assert code == 1 and "differs: model.json" in out
    assert run(capsys, "compile", V2, "-o", str(out_dir), "--check")[0] == 1

    # Recompiling repairs it.
    code, out, _ = run(capsys, "compile", V2, "-o", str(out_dir))
    assert code == 0 and "wrote 1 of" in out
    assert run(capsys, "compile", V2, "-o", str(out_dir), "--check")[0] == 0


def test_compile_removes_stale_owned_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    assert run(capsys, "compile", V2, "-o", str(out_dir))[0] == 0
    stale = out_dir / "schemas" / "retired.schema.json"
    stale.write_text("{}\n", encoding="utf-8")
    mine = out_dir / "README.md"  # not owned by compilation: left alone
    mine.write_text("notes\n", encoding="utf-8")

    code, out, _ = run(capsys, "compile", V2, "-o", str(out_dir), "--check")
    assert code == 1
    assert "not produced by the spec: schemas/retired.schema.json" in out
    assert "README.md" not in out

    code, out, _ = run(capsys, "compile", V2, "-o", str(out_dir))
    assert code == 0 and "removed 1" in out
    assert not stale.exists()
    assert mine.read_text(encoding="utf-8") == "notes\n"
    assert run(capsys, "compile", V2, "-o", str(out_dir), "--check")[0] == 0


def test_compile_of_a_bad_spec_writes_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "compile", BAD, "-o", str(out_dir))
    assert code == 1
    assert "not compiled" in err and "error[" in err
    assert not out_dir.exists()


# ---------------------------------------------------------------- explain


def test_explain(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", "ORC102")
    assert code == 0
    assert "ORC102" in out and "unknown-role" in out


def test_explain_by_name_and_lowercase(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "explain", "unknown-role")[0] == 0
    assert run(capsys, "explain", "orc102")[0] == 0


def test_explain_unknown_code_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "explain", "ORC999")
    assert code == 2
    assert "unknown code" in err


def test_explain_a_runtime_refusal(capsys: pytest.CaptureFixture[str]) -> None:
    from orchdsl_runtime.errors import CODES as RUN_CODES

    for code, name in RUN_CODES.items():  # every refusal code has its row in docs/runtime.md
        status, out, _ = run(capsys, "explain", code)
        assert status == 0 and out.startswith(f"{code} {name} ") and len(out.splitlines()) == 2, out
    status, out, _ = run(capsys, "explain", "waiting-for-answer")
    assert status == 0 and "blocking consultation" in out
    assert run(capsys, "explain", "run004")[0] == 0
    status, _, err = run(capsys, "explain", "RUN999")
    assert status == 2 and f"RUN001 to {max(RUN_CODES)}" in err
