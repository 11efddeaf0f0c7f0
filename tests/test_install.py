"""The package works installed from a wheel, away from the checkout: `orchdsl explain` prints a
code's whole page and a refusal code's meaning, both shipped inside the wheel (one copy each).

The wheel is built from a copy of the checkout and installed without dependencies into a new
virtual environment; the dependencies (lark, pydantic, ...) come from this interpreter's
site-packages through a ``.pth`` file, so the test needs no network. Everything of orchdsl itself
must come from the wheel, which the test checks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LEFT_OUT = shutil.ignore_patterns(".git", ".venv", "build", "dist", "out", "*.egg-info", "__pycache__",
                                  ".*_cache", ".hypothesis", ".orchdsl-run", "results")


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with orchdsl installed from a wheel; its bin/ directory."""
    tmp = tmp_path_factory.mktemp("wheel")
    src, dist, venv = tmp / "src", tmp / "dist", tmp / "venv"
    shutil.copytree(ROOT, src, ignore=LEFT_OUT)
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", dist, src, cwd=tmp)
    [wheel] = dist.glob("orchdsl-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for page in ("ORC102.md", "ORC901.md", "README.md"):
        assert sum(n.endswith(f"/{page}") for n in names) == 1, (page, names)
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp)
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", "--no-index",
        wheel, cwd=tmp)
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp).strip()
    here = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (Path(site) / "dependencies.pth").write_text("".join(f"{p}\n" for p in here), encoding="utf-8")
    return venv / "bin"


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


@pytest.mark.slow
def test_everything_is_imported_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    out = run(installed / "python", "-c",
              "import orchdsl, orchdsl_codes, orchdsl_grammar, orchdsl_runtime\n"
              "for m in (orchdsl, orchdsl_codes, orchdsl_grammar, orchdsl_runtime): print(m.__file__)",
              cwd=tmp_path, env=clean_env())
    venv = installed.parent.resolve()
    for line in out.splitlines():
        assert Path(line).resolve().is_relative_to(venv), line


@pytest.mark.slow
def test_explain_a_diagnostic_code_prints_its_whole_page(installed: Path, tmp_path: Path) -> None:
    out = run(installed / "orchdsl", "explain", "ORC102", cwd=tmp_path, env=clean_env())
    assert out == (ROOT / "docs" / "codes" / "ORC102.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_explain_a_refusal_code_prints_its_meaning(installed: Path, tmp_path: Path) -> None:
    from orchdsl_runtime.errors import BY_CODE

    out = run(installed / "orchdsl", "explain", "RUN004", cwd=tmp_path, env=clean_env())
    meaning = BY_CODE["RUN004"].meaning
    assert out == f"RUN004 actor-not-permitted (a refused runtime command: nothing was recorded)\n  {meaning}\n"
