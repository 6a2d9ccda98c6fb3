"""Where one submission's grading time goes: each pipeline stage, timed on its own.

Grades the bundled correct cs231n-2021 example through the stages of ``grader.pipeline``
(intake, detect, stage, run, score, assemble, render) and prints each stage's median time and its
share of the total, plus the total as a ratio to a bare interpreter importing numpy (measured in
the same run: the floor of any run that starts a Python child).

    python bench/pipeline_stages.py [--sandbox auto|bwrap|process] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "cs231n-2021" / "correct"
PYTHON = os.path.realpath(sys.executable)
STAGES = ("intake", "detect", "stage", "run", "score", "assemble", "render")


def bare_start(repeat: int) -> float:
    """Median seconds of ``python -c 'import numpy'`` (the floor of a child's start)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([PYTHON, "-c", "import numpy"], check=True)  # noqa: S603 - our interpreter
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def one_pass(tmp: Path, sandbox: str) -> dict[str, float]:
    """Seconds of each stage for one grading of the example."""
    from grader import intake, pipeline, scoring
    from grader.checks.oracle import LiveOracle
    from grader.report.render import render
    from grader.sandbox import Limits, resolve_mode
    from grader.spec.registry import available_specs
    from grader.workspace.stage import stage

    times: dict[str, float] = {}

    def timed(name: str, step: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        value = step()
        times[name] = time.perf_counter() - start
        return value

    isolation = resolve_mode(sandbox)
    specs = available_specs().values()
    (sub,) = timed("intake", lambda: intake.collect([EXAMPLE], tmp / "intake", lms=False))
    detected = timed("detect", lambda: pipeline.detect_course(sub, None, specs))
    spec = detected.spec
    staged = timed("stage", lambda: stage(sub.root, spec, tmp / "work"))
    ran = timed(
        "run",
        lambda: pipeline.run_staged(
            staged,
            spec,
            isolation=isolation,
            limits=Limits.layered(spec.limits),
            oracle=LiveOracle(),
        ),
    )
    checks = timed("score", lambda: scoring.score(ran.outcomes, spec.active_checks()))
    result = timed(
        "assemble",
        lambda: pipeline.assemble(
            sub, spec, detected.evidence, staged, ran, checks, isolation, seconds=0.0
        ),
    )
    timed("render", lambda: render(result, tmp / "out"))
    if result.score != result.max_score:
        raise SystemExit(
            f"the correct example must score full marks, got {result.score}/{result.max_score}"
        )
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sandbox", default=None, help="auto|bwrap|process (default: bwrap if usable)"
    )
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from grader.sandbox import available_modes

    sandbox = args.sandbox or ("bwrap" if available_modes().get("bwrap") is None else "process")
    bare = bare_start(args.repeat)
    runs = []
    for _ in range(args.repeat + 1):
        with tempfile.TemporaryDirectory(prefix="nngrader-bench-") as tmp:
            runs.append(one_pass(Path(tmp), sandbox))
    runs = runs[1:]  # the first pass pays the imports
    medians = {name: statistics.median(r[name] for r in runs) for name in STAGES}
    total = sum(medians.values())
    print(
        f"sandbox: {sandbox}; median of {args.repeat} passes; bare `python -c 'import numpy'`: "
        f"{bare:.3f} s"
    )
    print(f"{'stage':<10} {'seconds':>9} {'share':>7}")
    for name in STAGES:
        print(f"{name:<10} {medians[name]:9.4f} {medians[name] / total:7.1%}")
    print(f"{'total':<10} {total:9.4f} {'':>7}  = {total / bare:.1f} x a bare interpreter start")


if __name__ == "__main__":
    main()
