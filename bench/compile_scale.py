"""How tree compilation time grows with the size of a tree.

Generates one tree of 10, 100, 1,000 and 10,000 nodes (a balanced tree of
single-choice questions, every text in four locales with a little markup, one
scenario per outcome so the coverage check passes), writes it beside small
vocabularies, and times the whole of ``compile_folder``: YAML, schema, markup,
graph checks, compiling, scenarios and coverage. It also times the YAML and
schema steps alone, and loading all the shipped trees.

Each figure is the best of several runs (``time.perf_counter``), which is the
least disturbed by whatever else the machine is doing. Run:

    .venv/bin/python bench/compile_scale.py
"""

from __future__ import annotations

import gc
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from widget_server import schema
from widget_server.settings import PROJECT_ROOT
from widget_server.trees.compiler import compile_folder
from widget_server.yamlsource import Limits, parse_yaml

SIZES = (10, 100, 1_000, 10_000)
VOCABULARIES = PROJECT_ROOT / "tests" / "fixtures" / "trees"
#: A 10,000-node tree is far beyond what an author writes, and beyond the limits.
LIMITS = Limits(max_bytes=100_000_000, max_values=10_000_000)


def text(words: str, n: int) -> str:
    return (
        f"{{fr: 'Question *{n}* : {words} ?', en: 'Question *{n}*: {words}?', "
        f"ar: 'السؤال *{n}*: {words}؟', nl: 'Vraag *{n}*: {words}?'}}"
    )


def generate(nodes: int) -> str:
    """A tree of exactly ``nodes`` nodes: a heap of questions with two choices each."""
    heap = nodes if nodes % 2 else nodes - 1
    extra = nodes != heap
    lines = [
        "id: bench",
        f"title: {text('bench', 0)}",
        "start: n0",
        "nodes:",
    ]
    outcomes: list[tuple[str, list[str]]] = []
    paths: dict[int, list[str]] = {0: []}
    for i in range(heap):
        if 2 * i + 2 < heap:
            lines += [
                f"  n{i}:",
                "    type: question",
                f"    text: {text('what happened', i)}",
                "    choices:",
            ]
            for answer, child in (("a", 2 * i + 1), ("b", 2 * i + 2)):
                lines += [
                    f"      - id: {answer}",
                    f"        label: {text('this', child)}",
                    f"        next: n{child}",
                ]
                paths[child] = [*paths[i], answer]
            if i == 0 and extra:
                lines += [
                    "      - id: c",
                    f"        label: {text('other', nodes)}",
                    "        next: extra",
                ]
        else:
            outcomes.append((f"n{i}", paths[i]))
    if extra:
        outcomes.append(("extra", ["c"]))
    for node_id, _ in outcomes:
        lines += [
            f"  {node_id}:",
            "    type: outcome",
            "    category: phishing",
            "    severity: medium",
            f"    title: {text('diagnosis', 1)}",
            f"    text: {text(node_id, 2)}",
            "    actions: [block_card]",
            "    advice: [keep_evidence]",
            "    reportable: true",
        ]
    lines.append("scenarios:")
    for node_id, answers in outcomes:
        lines += [
            f"  - name: reaches {node_id}",
            f"    answers: [{', '.join(answers)}]",
            f"    outcome: {node_id}",
        ]
    return "\n".join(lines) + "\n"


def best(action: Callable[[], object], runs: int) -> float:
    """The best of ``runs`` timings, with the garbage collector paused as compile_folder does."""
    times = []
    paused = gc.isenabled()
    gc.disable()
    try:
        for _ in range(runs):
            start = time.perf_counter()
            action()
            times.append(time.perf_counter() - start)
    finally:
        if paused:
            gc.enable()
    return min(times)


def main() -> None:
    print(f"Python {platform.python_version()} on {platform.machine()}, {platform.system()}")
    print("best of several runs, time.perf_counter; compile = the whole compile_folder\n")
    print(
        f"{'nodes':>7} {'file KB':>8} {'runs':>5} {'compile ms':>11} {'µs/node':>8} "
        f"{'yaml ms':>8} {'schema ms':>10}"
    )
    for size in SIZES:
        runs = 10 if size <= 1_000 else 3
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch) / "trees"
            folder.mkdir()
            for name in ("categories.yaml", "advice.yaml", "countries.yaml"):
                shutil.copy(VOCABULARIES / name, folder / name)
            raw = generate(size).encode()
            (folder / "bench.yaml").write_bytes(raw)
            compiled = compile_folder(folder, limits=LIMITS)
            assert len(compiled.catalog.trees["bench"].nodes) == size
            total = best(lambda f=folder: compile_folder(f, limits=LIMITS), runs)
            document = parse_yaml(raw, "bench.yaml", limits=LIMITS)
            yaml_time = best(lambda r=raw: parse_yaml(r, "bench.yaml", limits=LIMITS), runs)
            schema_time = best(lambda d=document: schema.check(d, "tree"), runs)
        print(
            f"{size:>7,} {len(raw) / 1024:>8,.0f} {runs:>5} {total * 1000:>11,.1f} "
            f"{total / size * 1e6:>8,.0f} {yaml_time * 1000:>8,.1f} {schema_time * 1000:>10,.1f}"
        )
    shipped = PROJECT_ROOT / "trees"
    compiled = compile_folder(shipped)
    shipped_time = best(lambda: compile_folder(shipped), 10)
    print(
        f"\nall shipped trees ({len(compiled.catalog.trees)} trees, {compiled.nodes} nodes, "
        f"{compiled.scenarios} scenarios, with the vocabularies): "
        f"{shipped_time * 1000:.0f} ms (best of 10)"
    )


if __name__ == "__main__":
    sys.exit(main())
