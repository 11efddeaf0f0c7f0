"""The commands the README's "Commands" section and the tools and CI pages show work when
pasted: each is run, from a copy of the specs and examples, as a shell would run it, and
exits as its page says (1 for the spec full of mistakes and for a failed check, else 0)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SH = re.compile(r"^```sh\n(.*?)^```$", re.M | re.S)


def commands() -> list[tuple[str, str]]:
    out = []
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Commands"): readme.index("## Running an organisation")]
    pages = [("README.md", section)] + [(f"docs/{p}", (ROOT / "docs" / p).read_text(encoding="utf-8"))
                                        for p in ("tools.md", "ci.md")]
    for page, text in pages:
        for block in SH.findall(text):
            for line in block.splitlines():
                line = line.split("  #", 1)[0].strip()
                if line.startswith(".venv/bin/orchdsl") and " lsp" not in line:
                    out.append((page, line))
    return out


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repo")
    for top in ("specs", "examples"):
        shutil.copytree(ROOT / top, root / top)
    return root


def test_the_pages_show_commands() -> None:
    found = commands()
    assert len(found) >= 20
    shown = " ".join(c for _, c in found)
    for sub in ("check", "fmt", "graph", "compile", "explain", "--format sarif", " - <"):
        assert sub in shown


@pytest.mark.parametrize("page, command", commands(), ids=[c for _, c in commands()])
def test_a_command_works_when_pasted(copy: Path, page: str, command: str) -> None:
    if "--format svg" in command and shutil.which("dot") is None:
        pytest.skip("Graphviz's `dot` is not installed")
    words = shlex.split(command.replace("<", "__STDIN__"))
    argv = [sys.executable, "-m", "orchdsl", *words[1:]]
    if ">" in argv:  # output to a file: the file does not matter here
        i = argv.index(">")
        del argv[i : i + 2]
    stdin = None
    if "__STDIN__" in argv:
        i = argv.index("__STDIN__")
        stdin = (copy / argv[i + 1]).read_bytes()
        del argv[i : i + 2]
    proc = subprocess.run(argv, cwd=copy, input=stdin, capture_output=True, timeout=300)
    expected = 1 if "twelve_mistakes" in command else 0
    assert proc.returncode == expected, f"{page}: {command}\n{proc.stderr.decode()[-2000:]}"
    assert b"Traceback" not in proc.stderr
