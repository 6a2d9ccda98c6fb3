"""What rendering every view costs: 500 graded submissions, against writing their results.json.

Grades a few bundled cs231n-2021 examples once (a correct one and buggy ones, so reports carry
failures, diagnoses and error plots), then makes 500 results of them under distinct names and
times, in the same run:

* the baseline: writing the 500 ``results.json`` files (Gradescope's document, written whole);
* every per-submission view (``grader.report.render.render``: results.json, instructor.json,
  report.html, report-instructor.html, output.txt);
* the class views (index.html, grades.csv), JUnit and the Markdown summary.

Each is printed in seconds and as a ratio to the baseline.

    python bench/render.py [--count 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
EXAMPLES = ROOT / "examples" / "cs231n-2021"
SOURCES = ("correct", "bug-relu-backward", "bug-affine-backward-no-reshape", "bug-momentum-sign")


def graded(tmp: Path, count: int) -> list:  # type: ignore[type-arg]
    """``count`` results made from the graded sources, each under a name of its own."""
    from grader import api

    found = api.grade(
        [EXAMPLES / name for name in SOURCES],
        out=tmp / "graded",
        assignment="cs231n-2021",
        sandbox="process",
    )
    return [
        replace(found[i % len(found)], name=f"student-{i:04d}", folder=f"student-{i:04d}")
        for i in range(count)
    ]


def median_seconds(step: Callable[[Path], object], tmp: Path, repeat: int) -> float:
    """Median wall time of ``step`` into a fresh folder under ``tmp``."""
    times = []
    for run in range(repeat):
        out = tmp / f"{step.__name__}-{run}"
        out.mkdir()
        start = time.perf_counter()
        step(out)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from grader.report import plots
    from grader.report.class_views import write_class_views
    from grader.report.gradescope import to_gradescope
    from grader.report.junit import junit_xml
    from grader.report.markdown import summary_markdown
    from grader.report.render import json_text, render, write_whole

    with tempfile.TemporaryDirectory(prefix="nngrader-bench-") as name:
        tmp = Path(name)
        results = graded(tmp, args.count)

        def results_json_only(out: Path) -> None:
            for r in results:
                (out / r.folder).mkdir()
                write_whole(out / r.folder / "results.json", json_text(to_gradescope(r), indent=2))

        def every_submission_view(out: Path) -> None:
            for r in results:
                render(r, out)

        def every_submission_view_no_plot_cache(out: Path) -> None:
            # Students with the same mistake share error plots (the inputs are seeded); here
            # every submission draws its plots afresh, as if each mistake were its own.
            for r in results:
                plots.clear_cache()
                render(r, out)

        def class_views(out: Path) -> None:
            write_class_views(results, out)

        def junit_and_summary(out: Path) -> None:
            write_whole(out / "junit.xml", junit_xml(results))
            write_whole(out / "summary.md", summary_markdown(results))

        steps = (
            results_json_only,
            every_submission_view,
            every_submission_view_no_plot_cache,
            class_views,
            junit_and_summary,
        )
        seconds = {step.__name__: median_seconds(step, tmp, args.repeat) for step in steps}
    base = seconds["results_json_only"]
    print(f"{args.count} submissions, median of {args.repeat} runs")
    for step, value in seconds.items():
        print(f"  {step:<36} {value:8.3f} s  {value / base:7.2f}x results.json")
    total = seconds["every_submission_view"] + seconds["class_views"]
    print(f"  {'all views':<36} {total:8.3f} s  {total / base:7.2f}x results.json")


if __name__ == "__main__":
    main()
