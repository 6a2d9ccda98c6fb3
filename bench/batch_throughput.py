"""Batch throughput: submissions graded per minute by each executor, on the same batch.

The batch is ``--count`` cs231n-2021 code submissions (default 200), the bundled correct one and
those with one planted mistake, copied round robin under distinct names, graded against the
whole cs231n-2021 spec. Each executor grades the whole batch into an output folder of its own
(a fresh results store: nothing is kept from another run): ``nngrader grade --jobs 1`` (this
process), ``--jobs 2`` (two local worker processes) and ``--executor dask --jobs 2`` (a
two-worker ``LocalCluster``, started and closed inside the measured time, as the command
does). Printed: seconds, submissions per minute, and the ratio to ``--jobs 1`` measured in the
same run (the machine's core count bounds what two workers can give).

    python bench/batch_throughput.py [--count 200] [--sandbox process|bwrap|auto]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: make the repository's packages importable

from grader import api  # noqa: E402 - needs the sys.path insert

EXAMPLES = REPO / "examples" / "cs231n-2021"
RUNS = (("local, --jobs 1", "local", 1), ("local, --jobs 2", "local", 2),
        ("dask LocalCluster, 2 workers", "dask", 2))  # fmt: skip
CHECK_SECONDS = 5.0


def batch(folder: Path, count: int) -> list[Path]:
    """``count`` submissions: the correct example and the buggy ones, round robin."""
    sources = [EXAMPLES / "correct", *sorted(EXAMPLES.glob("bug-*"))]
    paths = []
    for i in range(count):
        path = folder / f"s{i:04d}-{sources[i % len(sources)].name}"
        shutil.copytree(sources[i % len(sources)], path)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--sandbox", default="process", help="default: process (the bundled "
                        "examples are the project's own code); bwrap: as students' code "
                        "is graded")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nngrader-bench-") as tmp:
        paths = batch(Path(tmp) / "in", args.count)
        rows = []
        for label, executor, jobs in RUNS:
            out = Path(tmp) / f"out-{executor}-{jobs}"
            start = time.perf_counter()
            results = api.grade(
                paths, out=out, assignment="cs231n-2021", sandbox=args.sandbox, jobs=jobs,
                executor=executor, limits={"check_seconds": CHECK_SECONDS},
            )  # fmt: skip
            seconds = time.perf_counter() - start
            assert len(results) == args.count and not any(r.error for r in results)  # noqa: S101
            rows.append((label, seconds, args.count / seconds * 60))
    base = rows[0][2]
    print(f"{args.count} cs231n-2021 submissions, --sandbox {args.sandbox}, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    print(f"{'executor':<30} {'seconds':>8} {'subs/min':>9} {'vs --jobs 1':>12}")
    for label, seconds, rate in rows:
        print(f"{label:<30} {seconds:>8.1f} {rate:>9.1f} {rate / base:>11.2f}x")


if __name__ == "__main__":
    main()
