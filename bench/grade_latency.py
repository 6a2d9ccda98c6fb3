"""Grading latency for cs231n-2021: cold CLI, warm API, and throughput with --jobs 2.

Prints seconds per submission, and the cold figure as a ratio to a bare interpreter importing
numpy (the real interpreter binary, not a shim), measured in the same run.

    python bench/grade_latency.py [--sandbox auto|bwrap|process] [--count 50]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "cs231n-2021" / "correct"
PYTHON = os.path.realpath(sys.executable)


def timed(argv: list[str], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)  # noqa: S603 - our CLI
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sandbox", default=None, help="default: bwrap when usable, else process")
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from grader import api, intake
    from grader.sandbox import available_modes

    sandbox = args.sandbox or ("bwrap" if available_modes().get("bwrap") is None else "process")
    bare = timed([PYTHON, "-c", "import numpy"], args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        grade = [PYTHON, "-m", "grader", "grade"]
        options = ["--assignment", "cs231n-2021", "--sandbox", sandbox]
        cold = timed([*grade, str(EXAMPLE), *options, "--out", str(tmp_path / "cold")], args.repeat)

        spec = api.get_spec("cs231n-2021")
        (sub,) = intake.collect([EXAMPLE], tmp_path / "intake")
        warm = []
        for i in range(args.repeat + 1):
            start = time.perf_counter()
            result = api.grade_submission(
                sub, spec=spec, workdir=tmp_path / f"warm{i}", sandbox=sandbox
            )
            warm.append(time.perf_counter() - start)
        if result.score != result.max_score:
            raise SystemExit(
                f"the bundled correct example must score full marks, got "
                f"{result.score}/{result.max_score}"
            )
        warm = warm[1:]  # the first call pays imports

        many = tmp_path / "many"
        for i in range(args.count):
            shutil.copytree(EXAMPLE, many / f"student{i:03d}")
        students = sorted(str(p) for p in many.iterdir())
        batch_cli = [*grade, *students, *options, "--jobs", "2", "--out", str(tmp_path / "batch")]
        (batch,) = timed(batch_cli, 1)

    med = statistics.median
    print(f"sandbox: {sandbox}; {len(spec.checks)} checks; median of {args.repeat} runs")
    print(f"bare interpreter importing numpy : {med(bare):7.3f} s")
    print(
        f"CLI, one submission (cold)       : {med(cold):7.3f} s  "
        f"({med(cold) / med(bare):.1f}x bare)"
    )
    print(f"API, one submission (warm)       : {med(warm):7.3f} s")
    print(
        f"{args.count} submissions, --jobs 2      : {batch:7.2f} s  "
        f"({args.count / batch * 60:.0f} submissions/min)"
    )


if __name__ == "__main__":
    main()
