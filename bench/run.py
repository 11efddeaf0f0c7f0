"""Benchmark: check and compile time against spec size, and cold start.

For each scale (1, 10, 100; ``--quick``: 1 and 10) a spec is generated with
``bench/genspec.py`` and measured, each measurement in a fresh subprocess:

- the floor every Lark front end has: the file parsed by Lark's LALR parser
  into a bare tree (no transformer, no positions), best of N;
- ``orchdsl.pipeline.check_files`` (read, parse, lower, checks), best of N,
  and its stages (parse, lower, checks) timed one by one;
- ``orchdsl.compile.compile_to_dir`` of the checked model into an empty
  directory, best of N;
- peak resident memory of each of the three, one subprocess each.

Then the cold start of ``orchdsl --help`` and ``orchdsl check`` on the V2
spec (median wall time of fresh processes), next to the interpreter's own
start-up and a cold bare Lark parse of the same file, and the slowest imports
of a cold check (``python -X importtime``).

Prints a Markdown report and writes ``bench/results/latest.json``.

    .venv/bin/python bench/run.py            # scales 1, 10, 100
    .venv/bin/python bench/run.py --quick    # scales 1 and 10, fewer repetitions
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GRAMMAR = ROOT / "grammar" / "orch.lark"
V2 = ROOT / "specs" / "orchestration_v2.orch"
RESULTS = ROOT / "bench" / "results"

sys.path.insert(0, str(ROOT / "bench"))
from genspec import generate  # noqa: E402

# ------------------------------------------------------------------ workers
# Run in a fresh interpreter: ``run.py --worker KIND FILE REPS``.


def _best(fn: Any, reps: int, budget: float = 30.0) -> tuple[dict[str, Any], Any]:
    """Best wall and CPU time of ``reps`` runs (fewer once they took ``budget`` seconds)."""
    (timing, out), = _best_of({"": fn}, reps, budget).values()
    return timing, out


def _best_of(fns: dict[str, Any], reps: int, budget: float = 60.0) -> dict[str, tuple[dict[str, Any], Any]]:
    """Like ``_best`` for several functions, run in turn in each round so that a change in
    the machine's load affects them alike."""
    best = {k: {"wall": math.inf, "cpu": math.inf, "runs": 0} for k in fns}
    outs: dict[str, Any] = {}
    spent = 0.0
    for _ in range(reps):
        for key, fn in fns.items():
            w0, c0 = time.perf_counter(), time.process_time()
            outs[key] = fn()
            took = time.perf_counter() - w0
            b = best[key]
            b["wall"], b["cpu"] = min(b["wall"], took), min(b["cpu"], time.process_time() - c0)
            b["runs"] += 1
            spent += took
        if spent > budget:
            break
    return {k: (best[k], outs[k]) for k in fns}


class _GcClock:
    """Time spent in the cyclic garbage collector, from ``gc.callbacks``."""

    def __init__(self) -> None:
        self.total = 0.0
        self.collections = [0, 0, 0]
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._start
            self.collections[info["generation"]] += 1


def _bare_parser() -> Any:
    from lark import Lark

    return Lark(GRAMMAR.read_text(encoding="utf-8"), parser="lalr")


def _worker_timing(path: Path, reps: int) -> dict[str, Any]:
    from orchdsl.checks import run_checks
    from orchdsl.diagnostics import Diagnostics
    from orchdsl.lower import lower
    from orchdsl.parser import parse_text
    from orchdsl.pipeline import check_files

    text = path.read_text(encoding="utf-8")
    bare = _bare_parser()
    out: dict[str, Any] = {}
    # The first check also builds orchdsl's parser; best of N leaves that out.
    pair = _best_of({"bare": lambda: bare.parse(text), "check": lambda: check_files([path])}, reps)
    out["bare"], _ = pair["bare"]
    out["check"], result = pair["check"]
    out["errors"] = sum(1 for d in result.diagnostics if d.is_error)
    out["warnings"] = len(result.diagnostics) - out["errors"]
    out["codes"] = sorted({d.code for d in result.diagnostics})
    org = result.model
    if org is not None:
        out["size"] = {"domains": len(org.domains), "roles": len(org.roles),
                       "agents": len(getattr(org, "agents", [])),
                       "states": len(org.lifecycle.states) if org.lifecycle else 0}

    name = str(path)
    out["parse"], tree = _best(lambda: parse_text(text, name, Diagnostics()), reps)
    out["lower"], model = _best(lambda: lower([tree], Diagnostics()), reps)
    out["checks"], _ = _best(lambda: run_checks(model, Diagnostics()), reps)

    # How much of each is the cyclic garbage collector's.
    clock = _GcClock()
    gc.callbacks.append(clock)
    w0 = time.perf_counter()
    check_files([path])
    out["gc_in_check"] = {"seconds": clock.total, "of_wall": time.perf_counter() - w0,
                          "collections": clock.collections}
    gc.callbacks.remove(clock)
    gc.disable()
    try:
        pair = _best_of({"bare": lambda: bare.parse(text), "check": lambda: check_files([path])}, reps)
    finally:
        gc.enable()
    out["bare_nogc"], out["check_nogc"] = pair["bare"][0], pair["check"][0]
    return out


def _worker_compile(path: Path, reps: int) -> dict[str, Any]:
    from orchdsl.compile import compile_to_dir
    from orchdsl.generate import build_files
    from orchdsl.pipeline import check_files

    result = check_files([path])
    if result.model is None or not result.ok:
        return {}
    model = result.model

    out: dict[str, Any] = {}
    out["generate"], files = _best(lambda: build_files(model), reps)
    out["compiled_bytes"] = sum(len(t.encode("utf-8")) for t in files.values())
    # Each run writes into a new empty directory; removing it afterwards is not timed.
    best = {"wall": math.inf, "cpu": math.inf, "runs": 0}
    spent = 0.0
    for _ in range(reps):
        tmp = Path(tempfile.mkdtemp(prefix="orchbench-"))
        try:
            w0, c0 = time.perf_counter(), time.process_time()
            out["compiled_files"] = compile_to_dir(model, tmp / "out").total
            took = time.perf_counter() - w0
            best["wall"], best["cpu"] = min(best["wall"], took), min(best["cpu"], time.process_time() - c0)
            best["runs"] += 1
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        spent += took
        if spent > 30.0:
            break
    out["compile"] = best
    return out


def _maxrss_kb() -> int:
    # Linux reports kilobytes.
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _worker_memory(what: str, path: Path) -> dict[str, Any]:
    from orchdsl.compile import compile_to_dir
    from orchdsl.pipeline import check_files

    text = path.read_text(encoding="utf-8")
    if what == "bare":
        parser = _bare_parser()
        before = _maxrss_kb()
        parser.parse(text)
    elif what == "check":
        before = _maxrss_kb()
        check_files([path])
    else:
        result = check_files([path])
        before = _maxrss_kb()
        if result.model is not None:
            with tempfile.TemporaryDirectory(prefix="orchbench-") as tmp:
                compile_to_dir(result.model, Path(tmp) / "out")
    peak = _maxrss_kb()
    return {"baseline_mb": before / 1024, "peak_mb": peak / 1024}


def _spawn(*args: str, timeout: float | None = None, fatal: bool = False) -> dict[str, Any]:
    """Run a worker; on timeout return ``{"timeout": seconds}``, on failure ``{"failed": why}``."""
    try:
        proc = subprocess.run([sys.executable, __file__, "--worker", *args],
                              capture_output=True, text=True, check=False, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"timeout": timeout}
    if proc.returncode != 0:
        if fatal:
            raise RuntimeError(f"worker {args} failed:\n{proc.stderr}")
        lines = proc.stderr.strip().splitlines()
        return {"failed": lines[-1] if lines else f"exit {proc.returncode}"}
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


# ------------------------------------------------------------------ scales


def measure_scale(scale: int, reps: int, tmpdir: Path, compile_timeout: float,
                  with_compile: bool = True) -> dict[str, Any]:
    text = generate(scale)
    path = tmpdir / f"scale-{scale}.orch"
    path.write_text(text, encoding="utf-8")
    row: dict[str, Any] = {
        "scale": scale,
        "lines": text.count("\n"),
        "bytes": len(text.encode("utf-8")),
        "reps": reps,
    }
    row.update(_spawn("timing", str(path), str(reps), fatal=True))
    compiled = (_spawn("compile", str(path), str(reps), timeout=compile_timeout) if with_compile
                else {"skipped": True})
    if "timeout" in compiled:
        row["compile_timeout"] = compiled["timeout"]
    elif "failed" in compiled:
        row["compile_failed"] = compiled["failed"]
    elif "skipped" not in compiled:
        row.update(compiled)
    row["memory_mb"] = {what: _spawn("memory", str(path), what) if with_compile else {}
                        for what in ("bare", "check")}
    row["memory_mb"]["compile"] = ({} if not {"timeout", "skipped", "failed"}.isdisjoint(compiled)
                                   else _spawn("memory", str(path), "compile", timeout=compile_timeout))
    for clock in ("wall", "cpu"):
        row[f"check_over_bare_{clock}"] = row["check"][clock] / row["bare"][clock]
    row["check_over_bare_nogc"] = row["check_nogc"]["wall"] / row["bare_nogc"]["wall"]
    row["check_lines_per_s"] = row["lines"] / row["check"]["wall"]
    row["bare_lines_per_s"] = row["lines"] / row["bare"]["wall"]
    return row


def growth_exponents(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Slope of log(time) against log(lines) between successive scales; 1.0 is linear."""
    out = []
    for a, b in zip(rows, rows[1:], strict=False):
        slope = math.log(b[key]["wall"] / a[key]["wall"]) / math.log(b["lines"] / a["lines"])
        out.append({"from": a["scale"], "to": b["scale"], "exponent": slope})
    return out


# ------------------------------------------------------------------ cold start


def _tools() -> tuple[str, list[str]]:
    """The venv's python and the command that runs orchdsl."""
    venv = ROOT / ".venv" / "bin"
    python = str(venv / "python") if (venv / "python").exists() else sys.executable
    script = venv / "orchdsl"
    if script.exists():
        return python, [str(script)]
    found = shutil.which("orchdsl")
    return python, [found] if found else [python, "-m", "orchdsl"]


def _run_timed(cmd: list[str]) -> tuple[float, float, int]:
    """Wall time, CPU time (user + system) and exit status of one fresh process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, proc.returncode


def _walls(cmds: dict[str, list[str]], runs: int) -> dict[str, dict[str, Any]]:
    """Median wall (and CPU) time of fresh processes; the commands take turns, after one
    warm-up run each (it fills the OS file cache and Lark's grammar cache)."""
    walls: dict[str, list[float]] = {k: [] for k in cmds}
    cpus: dict[str, list[float]] = {k: [] for k in cmds}
    codes: dict[str, int] = {}
    for cmd in cmds.values():
        _run_timed(cmd)
    for _ in range(runs):
        for key, cmd in cmds.items():
            wall, cpu, codes[key] = _run_timed(cmd)
            walls[key].append(wall)
            cpus[key].append(cpu)
    return {k: {"median": statistics.median(w), "min": min(w), "max": max(w),
                "cpu_median": statistics.median(cpus[k]), "runs": runs, "exit": codes[k]}
            for k, w in walls.items()}


# Everything a check imports, without running it.
_CHECK_IMPORTS = ("import orchdsl.cli, orchdsl.pipeline, orchdsl.parser, orchdsl.lower, "
                  "orchdsl.checks, orchdsl.render")


def cold_start(runs: int) -> dict[str, Any]:
    python, orchdsl = _tools()
    v2 = str(V2.relative_to(ROOT))
    bare = ("import pathlib; from lark import Lark; "
            f"Lark(pathlib.Path({str(GRAMMAR)!r}).read_text(), parser='lalr'{{}})"
            f".parse(pathlib.Path({str(V2)!r}).read_text())")
    out: dict[str, Any] = _walls({
        "python": [python, "-c", "pass"],
        "python_import_lark": [python, "-c", "import lark"],
        "bare_lark_v2": [python, "-c", bare.format("")],
        "bare_lark_cached_v2": [python, "-c", bare.format(", cache=True")],
        "import_model": [python, "-c", "import orchdsl.model"],
        "import_check": [python, "-c", _CHECK_IMPORTS],
        "orchdsl_help": [*orchdsl, "--help"],
        "orchdsl_check_v2": [*orchdsl, "check", v2],
        "orchdsl_fmt_v2": [*orchdsl, "fmt", "--check", v2],
    }, runs)
    out["v2_lines"] = V2.read_text(encoding="utf-8").count("\n")
    return out


_IMPORT_LINE = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


def import_offenders(runs: int, top: int = 10) -> list[dict[str, Any]]:
    """The imports with the largest cumulative time in a cold `orchdsl check` (median of runs)."""
    python, orchdsl = _tools()
    cmd = [python, "-X", "importtime", *orchdsl[-1:], "check", str(V2.relative_to(ROOT))]
    if orchdsl[0] == python:  # `python -m orchdsl`
        cmd = [python, "-X", "importtime", *orchdsl[1:], "check", str(V2.relative_to(ROOT))]
    samples: dict[str, list[int]] = {}
    selfs: dict[str, list[int]] = {}
    depth: dict[str, int] = {}
    for _ in range(runs):
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
        for line in proc.stderr.splitlines():
            m = _IMPORT_LINE.match(line)
            if m:
                name = m.group(4)
                samples.setdefault(name, []).append(int(m.group(2)))
                selfs.setdefault(name, []).append(int(m.group(1)))
                depth[name] = (len(m.group(3)) - 1) // 2
    ranked = sorted(samples, key=lambda n: -statistics.median(samples[n]))[:top]
    return [{"module": n, "cumulative_ms": statistics.median(samples[n]) / 1000,
             "self_ms": statistics.median(selfs[n]) / 1000, "depth": depth[n]} for n in ranked]


# ------------------------------------------------------------------ machine


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    python, _ = _tools()
    versions = subprocess.run(
        [python, "-c", "import sys, lark, pydantic, pygls; from importlib.metadata import version; "
         "print(sys.version.split()[0], lark.__version__, pydantic.VERSION, version('pygls'))"],
        capture_output=True, text=True, check=False).stdout.split()
    keys = ("python", "lark", "pydantic", "pygls")
    info: dict[str, Any] = {"cpu": cpu, "cores": os.cpu_count(), "ram_gb": ram_gb,
                            "platform": platform.platform(), **dict(zip(keys, versions, strict=False))}
    git = shutil.which("git")
    if git:
        head = subprocess.run([git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=ROOT, check=False).stdout.strip()
        dirty = subprocess.run([git, "status", "--porcelain"], capture_output=True, text=True,
                               cwd=ROOT, check=False).stdout.strip()
        info["commit"] = head + (" with uncommitted changes" if dirty else "")
    info["load_before"] = _load()
    info["date"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return info


# ------------------------------------------------------------------ report


def _ms(s: float) -> str:
    return f"{s * 1000:,.0f} ms" if s < 10 else f"{s:,.1f} s"


def _t(m: dict[str, Any] | None) -> str:
    return _ms(m["wall"]) if m else "n/a"


def _mb(m: dict[str, Any]) -> str:
    return f"{m['peak_mb']:.0f} MB" if "peak_mb" in m else "n/a"


def targets(data: dict[str, Any]) -> list[str]:
    """Each target of the benchmark, met or not, and by how much."""
    out = []

    def verdict(value: float, limit: float) -> str:
        if value <= limit:
            return f"**met** ({100 * (1 - value / limit):.0f} % under)"
        return f"**not met** ({100 * (value / limit - 1):.0f} % over)"

    cold = data.get("cold", {}).get("orchdsl_check_v2")
    if cold:
        out.append(f"- `orchdsl check` of the V2 spec under 0.5 s cold: median {_ms(cold['median'])} "
                   f"(fastest {_ms(cold['min'])}): {verdict(cold['median'], 0.5)}.")
    fmt = data.get("cold", {}).get("orchdsl_fmt_v2")
    if fmt:
        out.append(f"- `orchdsl fmt` of the V2 spec under 0.5 s cold: median {_ms(fmt['median'])} "
                   f"(fastest {_ms(fmt['min'])}): {verdict(fmt['median'], 0.5)}.")
    growth = data.get("growth") or []
    if growth:
        g = growth[-1]
        gb = (data.get("growth_bare") or [{}])[-1].get("exponent")
        out.append(f"- check time linear in spec size: exponent {g['exponent']:.2f} from {g['from']}× to "
                   f"{g['to']}× (1.00 is linear; the bare Lark parse: {gb:.2f}).")
    rows = data["scales"]
    if rows:
        big = rows[-1]
        out.append(f"- check of a large spec within 1.5× of the bare Lark parse: {big['check_over_bare_wall']:.2f}× "
                   f"at {big['scale']}× ({big['lines']:,} lines): {verdict(big['check_over_bare_wall'], 1.5)}.")
        per_100k = big["check"]["wall"] * 100_000 / big["lines"]
        out.append(f"- a 100,000-line spec checked in about 15 s or less: {per_100k:.1f} s per 100,000 lines "
                   f"at {big['scale']}×: {verdict(per_100k, 15.0)}.")
    return out


def report(data: dict[str, Any]) -> str:
    m = data["machine"]
    out = [f"## orchdsl benchmark, {m['date']}", "",
           f"{m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM; Python {m.get('python')}, "
           f"lark {m.get('lark')}, pydantic {m.get('pydantic')}, pygls {m.get('pygls')}; "
           f"commit {m.get('commit', '?')}; load average {m.get('load_before')} before, "
           f"{data.get('load_after')} after", ""]
    rows = data["scales"]
    out += ["### targets", "", *targets(data), ""]
    if all("size" in r for r in rows):
        out += ["### the generated specs (`bench/genspec.py`)", "",
                "| scale | lines | bytes | domains | roles | agents | lifecycle states |",
                "|---:|---:|---:|---:|---:|---:|---:|"]
        for r in rows:
            z = r["size"]
            out.append(f"| {r['scale']}× | {r['lines']:,} | {r['bytes']:,} | {z['domains']:,} "
                       f"| {z['roles']:,} | {z['agents']:,} | {z['states']} |")
        out.append("")
    out += ["### check against spec size (best of N, wall time)", "",
            "| scale | lines | bare Lark parse | orchdsl check | check ÷ bare (wall, CPU) "
            "| check lines/s | bare lines/s |",
            "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['scale']}× | {r['lines']:,} | {_t(r['bare'])} | {_t(r['check'])} "
                   f"| {r['check_over_bare_wall']:.2f}, {r['check_over_bare_cpu']:.2f} "
                   f"| {r['check_lines_per_s']:,.0f} | {r['bare_lines_per_s']:,.0f} |")
    out.append("")
    for key, label in (("growth", "orchdsl check"), ("growth_bare", "bare Lark parse")):
        if data.get(key):
            out.append(f"Growth exponent of {label} time against lines (1.00 = linear): "
                       + ", ".join(f"{g['from']}×→{g['to']}×: {g['exponent']:.2f}" for g in data[key]))
    out.append("")
    for r in rows:
        if r["errors"] or r["warnings"]:
            out.append(f"Scale {r['scale']}: {r['errors']} errors, {r['warnings']} warnings "
                       f"({', '.join(r['codes'])}).")
            out.append("")
    out += ["### where the check's time goes", "",
            "| scale | parse (Lark + transformer) | lower | checks | GC during one check "
            "| bare, GC off | check, GC off | check ÷ bare, GC off |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        g = r["gc_in_check"]
        out.append(f"| {r['scale']}× | {_t(r['parse'])} | {_t(r['lower'])} | {_t(r['checks'])} "
                   f"| {_ms(g['seconds'])} of {_ms(g['of_wall'])} | {_t(r['bare_nogc'])} "
                   f"| {_t(r['check_nogc'])} | {r['check_over_bare_nogc']:.2f} |")
    out.append("")
    out += ["### compile and memory", "",
            "| scale | generate files in memory | compile to a directory | files | bytes "
            "| peak RSS bare parse | peak RSS check | peak RSS compile |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        mem = r["memory_mb"]
        if "compile" in r:
            comp = f"{_t(r['generate'])} | {_t(r['compile'])} | {r['compiled_files']:,} | {r['compiled_bytes']:,}"
        elif "compile_failed" in r:
            why = r["compile_failed"].replace("|", "/")
            comp = f"failed: {why} | | |"
        elif "compile_timeout" in r:
            comp = f"> {r['compile_timeout']:.0f} s (stopped) | | |"
        else:
            comp = "not measured | | |"
        out.append(f"| {r['scale']}× | {comp} | {_mb(mem['bare'])} | {_mb(mem['check'])} "
                   f"| {_mb(mem['compile'])} |")
    out.append("")
    c = data.get("cold")
    if c:
        out += ["### cold start (fresh process, median wall time)", "",
                "| command | median | min | max |", "|---|---:|---:|---:|"]
        labels = [("python", "`python -c pass`"), ("python_import_lark", "`python -c 'import lark'`"),
                  ("bare_lark_v2", f"bare Lark: build the LALR tables, parse V2 ({c['v2_lines']} lines)"),
                  ("bare_lark_cached_v2", "bare Lark, tables from Lark's cache (`cache=True`), parse V2"),
                  ("import_model", "`python -c 'import orchdsl.model'` (pydantic models)"),
                  ("import_check", "import every module a check uses, run nothing"),
                  ("orchdsl_help", "`orchdsl --help`"),
                  ("orchdsl_check_v2", "`orchdsl check specs/orchestration_v2.orch`"),
                  ("orchdsl_fmt_v2", "`orchdsl fmt --check specs/orchestration_v2.orch`")]
        for key, label in labels:
            if key not in c:
                continue
            w = c[key]
            out.append(f"| {label} | {_ms(w['median'])} | {_ms(w['min'])} | {_ms(w['max'])} |")
        out.append("")
    imp = data.get("imports")
    if imp:
        out += ["### largest imports of a cold `orchdsl check` (`-X importtime`, cumulative, median)", "",
                "| module | cumulative | self |", "|---|---:|---:|"]
        for i in imp:
            out.append(f"| {'· ' * i['depth']}`{i['module']}` | {i['cumulative_ms']:.1f} ms "
                       f"| {i['self_ms']:.1f} ms |")
        out.append("")
    return "\n".join(out)


README = ROOT / "bench" / "README.md"
_MARKS = ("<!-- figures -->", "<!-- /figures -->")


def update_readme(text: str) -> None:
    """Replace the figures between the README's markers with ``text``."""
    doc = README.read_text(encoding="utf-8")
    start, end = doc.index(_MARKS[0]) + len(_MARKS[0]), doc.index(_MARKS[1])
    body = text.replace("\n### ", "\n#### ").replace("## orchdsl benchmark, ", "### Figures, ", 1)
    README.write_text(doc[:start] + "\n" + body + "\n" + doc[end:], encoding="utf-8")


# ------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true",
                   help="scales 1 and 10 only, one repetition, compile and memory at scale 1 only")
    p.add_argument("--scales", type=int, nargs="+", help="scales to measure (default 1 10 100)")
    p.add_argument("--reps", type=int, help="repetitions per timing (best of N)")
    p.add_argument("--cold-runs", type=int, help="fresh processes per cold-start figure")
    p.add_argument("--compile-timeout", type=float, default=180.0,
                   help="give up on compiling one scale after this many seconds (default 180)")
    p.add_argument("--json", type=Path, default=RESULTS / "latest.json", help="where to write results")
    p.add_argument("--from-json", type=Path, metavar="JSON",
                   help="measure nothing: print the report of results saved earlier")
    p.add_argument("--readme", action="store_true",
                   help="also put the report into bench/README.md, between its figure markers")
    p.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        kind, *rest = args.worker
        if kind == "timing":
            result = _worker_timing(Path(rest[0]), int(rest[1]))
        elif kind == "compile":
            result = _worker_compile(Path(rest[0]), int(rest[1]))
        else:
            result = _worker_memory(rest[1], Path(rest[0]))
        print(json.dumps(result))
        return 0

    if args.from_json:
        saved = json.loads(args.from_json.read_text(encoding="utf-8"))
        print(report(saved))
        if args.readme:
            update_readme(report(saved))
        return 0

    scales = args.scales or ([1, 10] if args.quick else [1, 10, 100])
    cold_runs = args.cold_runs or (3 if args.quick else 10)
    data: dict[str, Any] = {"machine": machine(), "quick": args.quick, "scales": []}
    with tempfile.TemporaryDirectory(prefix="orchbench-") as tmp:
        for scale in scales:
            reps = args.reps or (1 if args.quick else 5 if scale < 100 else 3)
            # --quick compiles and measures memory at the smallest scale only.
            with_compile = not args.quick or scale == min(scales)
            data["scales"].append(measure_scale(scale, reps, Path(tmp), args.compile_timeout,
                                                with_compile))
            print(f"scale {scale}: done", file=sys.stderr)
    data["growth"] = growth_exponents(data["scales"], "check")
    data["growth_bare"] = growth_exponents(data["scales"], "bare")
    data["cold"] = cold_start(cold_runs)
    data["imports"] = import_offenders(1 if args.quick else 5)
    data["load_after"] = _load()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(report(data))
    if args.readme:
        update_readme(report(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
