"""Benchmark: how soon the language server answers a change in a large spec.

A real client (pygls's) starts ``orchdsl lsp`` over standard input and output,
opens a generated spec of about 10,000 lines (``genspec.py --scale 9``) and
times, from the ``didChange`` it sends to the ``publishDiagnostics`` it
receives, three kinds of change, each made ``--reps`` times (each time a
change the server has not seen, and undone after, untimed):

- *edit in a line*: a role reference misspelt (an ORC102 appears), then
  restored (the diagnostics clear);
- *line added at the top*: a comment line inserted after the first line
  (every declaration below moves), then removed;
- *syntax error*: a closing brace in the middle removed (ORC001), then put back;

and then a hover and a completion request, answered from the last check.

The server waits ``ORCHDSL_LSP_DEBOUNCE`` seconds after the last change
(0.1 by default) before it checks; the run is made at the default and with no
wait, which leaves the work alone. Side by side, in this process: a full
``check_text`` of the same text (what a server that re-checks everything on
each change would spend) and Lark's bare LALR parse of it (the floor).

    .venv/bin/python bench/lsp_bench.py                # prints a Markdown report
    .venv/bin/python bench/lsp_bench.py --readme       # and writes it into bench/README.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.client import LanguageClient

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "bench" / "README.md"
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT / "bench"))
from genspec import generate  # noqa: E402

TARGET = 0.300  # seconds, from a change to its diagnostics


class Client:
    """A language client that records when diagnostics arrive."""

    def __init__(self) -> None:
        self.lc = LanguageClient("orchdsl-bench", "1")
        self.arrived: asyncio.Queue[tuple[float, lsp.PublishDiagnosticsParams]] = asyncio.Queue()

        @self.lc.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(params: lsp.PublishDiagnosticsParams) -> None:
            self.arrived.put_nowait((time.perf_counter(), params))

    async def start(self, debounce: float) -> None:
        env = {**os.environ, "ORCHDSL_LSP_DEBOUNCE": str(debounce)}
        await self.lc.start_io(sys.executable, "-m", "orchdsl", "lsp", env=env)
        await self.lc.initialize_async(lsp.InitializeParams(capabilities=lsp.ClientCapabilities()))
        self.lc.initialized(lsp.InitializedParams())

    async def diagnostics(self, uri: str, version: int) -> tuple[float, list[lsp.Diagnostic]]:
        while True:
            at, params = await asyncio.wait_for(self.arrived.get(), 60)
            if params.uri == uri and params.version == version:
                return at, list(params.diagnostics)

    async def stop(self) -> None:
        await self.lc.shutdown_async(None)
        self.lc.exit(None)
        await self.lc.stop()


async def measure(text: str, path: Path, debounce: float, reps: int) -> dict[str, Any]:
    client = Client()
    await client.start(debounce)
    uri = path.as_uri()
    version = 1
    t0 = time.perf_counter()
    client.lc.text_document_did_open(lsp.DidOpenTextDocumentParams(
        text_document=lsp.TextDocumentItem(uri=uri, language_id="orch", version=version, text=text)))
    at, diags = await client.diagnostics(uri, version)
    out: dict[str, Any] = {"open": at - t0, "open_diagnostics": len(diags)}

    first_ref = text.index("reports_to ") + len("reports_to ")
    braces = [i for i in range(len(text) // 4, len(text)) if text.startswith("\n}\n", i)][:reps]
    # Each change is new to the server (nothing it parsed before fits it); undoing it is not timed.
    variants = {
        "edit in a line": lambda r: text[:first_ref] + f"x{r}" + text[first_ref:],
        "line added at the top": lambda r: text.replace("\n", "\n# a note\n" * (r + 1), 1),
        "syntax error": lambda r: text[:braces[r % len(braces)]] + text[braces[r % len(braces)] + 2:],
    }
    for label, make in variants.items():
        times: list[float] = []
        codes: set[str] = set()
        for r in range(reps):
            for timed, new_text in ((True, make(r)), (False, text)):
                version += 1
                t0 = time.perf_counter()
                client.lc.text_document_did_change(lsp.DidChangeTextDocumentParams(
                    text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
                    content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=new_text)]))
                at, diags = await client.diagnostics(uri, version)
                if timed:
                    times.append(at - t0)
                    codes |= {str(d.code) for d in diags}
        out[label] = {"median": statistics.median(times), "max": max(times), "runs": len(times),
                      "codes": sorted(codes)}

    position = lsp.Position(line=text.count("\n", 0, first_ref), character=first_ref - text.rfind("\n", 0, first_ref) - 1)
    doc = lsp.TextDocumentIdentifier(uri=uri)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        await client.lc.text_document_hover_async(lsp.HoverParams(text_document=doc, position=position))
        await client.lc.text_document_completion_async(lsp.CompletionParams(text_document=doc, position=position))
        times.append(time.perf_counter() - t0)
    out["hover and completion"] = {"median": statistics.median(times), "max": max(times), "runs": len(times)}
    await client.stop()
    return out


def peers(text: str, reps: int) -> dict[str, Any]:
    from lark import Lark

    from orchdsl.pipeline import check_text

    bare = Lark((ROOT / "grammar" / "orch.lark").read_text(encoding="utf-8"), parser="lalr")
    check_text(text, "big.orch")
    out: dict[str, list[float]] = {"check_text": [], "bare": []}
    for _ in range(reps):
        t0 = time.perf_counter()
        check_text(text, "big.orch")
        out["check_text"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        bare.parse(text)
        out["bare"].append(time.perf_counter() - t0)
    return {k: {"median": statistics.median(v), "min": min(v)} for k, v in out.items()}


def _ms(s: float) -> str:
    return f"{s * 1000:,.0f} ms"


def report(data: dict[str, Any]) -> str:
    m = data["machine"]
    out = [f"### Language server, {data['when']}", "",
           f"{m['cpu']}, {m['cores']} cores; Python {m['python']}; load average {m['load_before']} before, "
           f"{m['load_after']} after; a spec of {data['lines']:,} lines (`genspec.py --scale {data['scale']}`)", "",
           "| from the change to its diagnostics | debounce 0.1 s (default): median | max | no debounce: median | max |",
           "|---|---:|---:|---:|---:|"]
    d, z = data["default"], data["no_debounce"]
    out.append(f"| open the spec (first check) | {_ms(d['open'])} | | {_ms(z['open'])} | |")
    for label in ("edit in a line", "line added at the top", "syntax error", "hover and completion"):
        out.append(f"| {label} | {_ms(d[label]['median'])} | {_ms(d[label]['max'])} "
                   f"| {_ms(z[label]['median'])} | {_ms(z[label]['max'])} |")
    p = data["peers"]
    out += ["", f"Side by side, in one process: a full `check_text` of the same text takes "
                f"{_ms(p['check_text']['median'])} (median), Lark's bare parse of it {_ms(p['bare']['median'])}.", ""]
    worst = max(d[k]["max"] for k in ("edit in a line", "line added at the top", "syntax error"))
    typical = d["edit in a line"]["median"]
    verdict = "**met**" if typical <= TARGET else "**not met**"
    out.append(f"- a change in a 10,000-line spec answered within 300 ms: {_ms(typical)} for an edit in a "
               f"line (median, with the debounce), {_ms(worst)} at worst over every kind of change: {verdict}.")
    return "\n".join(out) + "\n"


def update_readme(text: str) -> None:
    start, end = "<!-- lsp figures -->", "<!-- /lsp figures -->"
    readme = README.read_text(encoding="utf-8")
    i, j = readme.index(start) + len(start), readme.index(end)
    README.write_text(readme[:i] + "\n" + text + readme[j:], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--scale", type=int, default=9, help="genspec scale (9: about 10,000 lines)")
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--readme", action="store_true", help="write the figures into bench/README.md")
    args = p.parse_args(argv)

    import tempfile

    text = generate(args.scale)
    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"
    with tempfile.TemporaryDirectory(prefix="orchbench-lsp-") as tmp:
        path = Path(tmp) / "big.orch"
        path.write_text(text, encoding="utf-8")
        default = asyncio.run(measure(text, path, 0.1, args.reps))
        no_wait = asyncio.run(measure(text, path, 0.0, args.reps))
    cpu = platform.processor() or platform.machine()
    if Path("/proc/cpuinfo").exists():
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), cpu)
    data = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "scale": args.scale, "lines": text.count("\n"),
        "default": default, "no_debounce": no_wait, "peers": peers(text, args.reps),
        "machine": {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
                    "load_before": load_before,
                    "load_after": " ".join(Path("/proc/loadavg").read_text().split()[:3])
                    if Path("/proc/loadavg").exists() else "?"},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "lsp.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    text_report = report(data)
    sys.stdout.write(text_report)
    if args.readme:
        update_readme(text_report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
