"""Wall time of the ``solver`` check (``train_adam``) on a bundled correct example.

Each run grades the course's correct example with a spec restricted to its training check, in a
fresh interpreter, and records the check's own wall time (``CheckResult.seconds``: the imports in
the child, the reset, the training) and the whole submission's (staging, child start, the check,
teardown). The baseline is a bare interpreter with the child's flags importing numpy. Everything
is measured interleaved (round robin, order rotated every run) so that machine load affects all
of it alike; ``--before DIR`` adds a checkout of the code before the change (e.g. made with
``git worktree add DIR <commit>``), measured the same way.

Before the training loop moved into the grading process (issue 10, finding 1) the child ran the
whole Solver in one request. Measured on the 2-core VM of that change before editing anything,
cs231n-2021 under bwrap, 20 runs, medians: check 0.177 s, submission 0.260 s, bare numpy 0.105 s
(``BEFORE``; 10 runs gave 0.189, 0.266, 0.102; cs182-sp25 0.197, 0.282, 0.108). The issue asks
to stay within 2x of that.

    python bench/training_check.py [--runs 10] [--course cs231n-2021] [--sandbox bwrap]
                                   [--before DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: make the repository's packages importable

from grader.sandbox.launch import THREAD_VARS  # noqa: E402 - needs the sys.path insert above
from grader.sandbox.paths import numpy_path  # noqa: E402 - needs the sys.path insert above

BEFORE = {"check": 0.177, "submission": 0.260, "bare numpy": 0.105}
"""Medians measured before the change (cs231n-2021, bwrap, 20 runs; see the module docstring)."""

ONE_GRADING = """
import json, sys, tempfile, time
from dataclasses import replace
from pathlib import Path
repo, course, sandbox = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
sys.path.insert(0, str(repo))
from grader import api, intake
spec = api.get_spec(course)
spec = replace(spec, checks=tuple(c for c in spec.checks if c.kind == "solver"))
with tempfile.TemporaryDirectory(prefix="nng-bench-") as tmp:
    sub, = intake.collect([repo / "examples" / course.partition("@")[0] / "correct"],
                          Path(tmp) / "intake", lms=False)
    start = time.perf_counter()
    result = api.grade_submission(sub, spec=spec, workdir=Path(tmp) / "work", sandbox=sandbox)
    total = time.perf_counter() - start
check, = result.checks
print(json.dumps({"check": check.seconds, "submission": total,
                  "status": f"{check.status} {check.score:g}/{check.max_score:g}"}))
"""
"""Grades once in a fresh interpreter with ``sys.argv[1]``'s packages; prints the times."""


def bare() -> float:
    """Seconds for the bare interpreter (child flags, numpy on PYTHONPATH) to import numpy."""
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": os.pathsep.join(numpy_path()),
        "PYTHONHASHSEED": "0",
        **{var: "1" for var in THREAD_VARS},
    }
    start = time.perf_counter()
    subprocess.run([sys.executable, "-S", "-B", "-c", "import numpy"], env=env, check=True)
    return time.perf_counter() - start


def grade_once(repo: Path, course: str, sandbox: str) -> dict[str, object]:
    """Check and submission seconds, and the status, of one grading with ``repo``'s code."""
    # Our own interpreter and script; the arguments are the command line's paths and names.
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", ONE_GRADING, str(repo), course, sandbox],
        capture_output=True,
        text=True,
        check=True,
        cwd=repo,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--course", default="cs231n-2021")
    parser.add_argument("--sandbox", default="bwrap", choices=("bwrap", "process"))
    parser.add_argument("--before", type=Path, help="a checkout of the code before the change")
    args = parser.parse_args()
    subjects = {"now": REPO, **({"before": args.before.resolve()} if args.before else {})}
    times: dict[str, list[float]] = {"bare numpy": []}
    statuses: dict[str, set[str]] = {name: set() for name in subjects}
    for name in subjects:
        times[f"{name} check"], times[f"{name} submission"] = [], []
    for run in range(args.runs):
        order = ["bare", *subjects]
        order = order[run % len(order) :] + order[: run % len(order)]
        for what in order:
            if what == "bare":
                times["bare numpy"].append(bare())
                continue
            found = grade_once(subjects[what], args.course, args.sandbox)
            times[f"{what} check"].append(float(found["check"]))  # type: ignore[arg-type]
            times[f"{what} submission"].append(float(found["submission"]))  # type: ignore[arg-type]
            statuses[what].add(str(found["status"]))
    median = {key: statistics.median(values) for key, values in times.items()}
    print(f"{args.course}, {args.sandbox}, {args.runs} runs (medians, seconds)")
    for name, seen in statuses.items():
        print(f"  {name}: {sorted(seen)}")
    for key, value in median.items():
        print(f"  {key:18} {value:7.3f}  ({value / median['bare numpy']:.2f} x bare numpy)")
    if "before check" in median:
        ratio = median["now check"] / median["before check"]
        print(f"  check now / before (measured here): {ratio:.2f}")
    ratio = median["now check"] / BEFORE["check"]
    print(f"  check now / recorded before ({BEFORE['check']} s, another day's load): {ratio:.2f}")


if __name__ == "__main__":
    main()
