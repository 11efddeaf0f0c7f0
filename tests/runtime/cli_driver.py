"""A process that issues `orchdsl run` commands one after another, for the kill and concurrency tests.

    python cli_driver.py DIR script N          a scripted run of N rounds (submit, create, assign,
                                               start, heartbeat, clock advance), until killed
    python cli_driver.py DIR worker NAME N     N commands of worker NAME on a shared task and
                                               instruction (heartbeats, submissions, task creation)

Each command goes through `orchdsl.cli.main` (the entry point of the `orchdsl` script, which
turns an unexpected exception into exit 3), opening the run directory afresh as a separate
invocation would, without paying for a new interpreter each time. The driver prints `ready`
once its imports are done, then one line per command: its number, its exit code and its words.
"""

from __future__ import annotations

import contextlib
import io
import sys

import orchdsl_runtime.cli  # noqa: F401

import orchdsl.run_cli  # noqa: F401 - imported before `ready`, so a kill lands among the commands
from orchdsl.cli import main

DEV, LEAD, TASK = "senior-developer", "backend-lead", "TT0.1"
DEVS = ("backend-developer-1", "backend-developer-2", DEV)


def run(directory: str, *args: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(["run", *args, "--dir", directory])
    return code, err.getvalue()


def script(rounds: int) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for r in range(rounds):
        ins, task, dev = f"K{r}", f"KT{r}", DEVS[r % len(DEVS)]
        out += [
            ("submit", "--as", "human", "--tier", "2", "--id", ins, f"round {r}"),
            ("task", "create", "--as", "planner", "--instruction", ins, "--domain", "backend", "--title", f"t{r}",
             "--skills", "python", "--estimate", "1h", "--id", task),
            ("assign", task, "--as", LEAD, "--to", dev),
            ("move", task, "IN_PROGRESS", "--as", dev),
            ("heartbeat", TASK, "--as", DEV, "--tokens", "10", "--remaining", "1h"),
            ("clock", "advance", "3h"),
        ]
    return out


def worker(name: str, n: int) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for i in range(n):
        if i % 8 == 7:
            out.append(("task", "create", "--as", "planner", "--instruction", "I1", "--domain", "backend",
                        "--title", f"{name}-{i}", "--estimate", "1h"))
        elif i % 4 == 1:
            out.append(("submit", "--as", "human", "--tier", "2", f"{name}-{i}"))
        else:
            out.append(("heartbeat", TASK, "--as", DEV, "--tokens", "1", "--note", f"{name}-{i}"))
    return out


def main_driver(argv: list[str]) -> int:
    directory, mode = argv[0], argv[1]
    commands = script(int(argv[2])) if mode == "script" else worker(argv[2], int(argv[3]))
    print("ready", flush=True)
    for i, args in enumerate(commands):
        code, err = run(directory, *args)
        print(i, code, " ".join(args[:2]), err.strip().replace("\n", " | ")[:300], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main_driver(sys.argv[1:]))
