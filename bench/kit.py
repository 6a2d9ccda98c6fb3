"""The student kit against the full grader: wheel size, build time, and ``check`` wall time.

For one course (default cs231n-2021), in the same run:

* **size**: the kit's wheel (``nngrader kit``: the engine, the given modules, the public spec and
  the recorded answers) against the full nngrader wheel (``grader.gradescope.wheel.build_wheel``);
* **build**: ``nngrader kit`` (record the answers on the correct example, stage, pip wheel, check)
  against building the full wheel, each a cold CLI process, median of ``--builds`` runs;
* **check**: ``nngrader check`` of the kit installed in a scratch venv (under a temp dir; pip
  fetches the kit's dependencies from the package index) against the full grader's
  ``python -m grader check --assignment ID``, both with the same ``--sandbox``, on the bundled
  correct example and a buggy one; interleaved round robin (order rotated every run) after one
  untimed run each, median of ``--runs``. The untimed run is ``--format json``: kit and full
  grader must give the same score and exit code, else the bench stops.

Check times are printed in seconds and as a ratio to a bare interpreter importing numpy (the real
interpreter binary, as ``grade_latency.py``) measured in the same run; kit against full as a ratio.

    python bench/kit.py [--assignment cs231n-2021] [--sandbox bwrap|process] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: make the repository's packages importable

from grader.sandbox import available_modes  # noqa: E402 - needs the sys.path insert

PYTHON = os.path.realpath(sys.executable)
BUGGY = "bug-relu-backward"
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the venv sees only its own
FULL_WHEEL = (
    "import sys; from pathlib import Path; from grader.gradescope.wheel import build_wheel; "
    "build_wheel(Path(sys.argv[1]))"
)


def seconds(argv: list[str], cwd: Path, ok: tuple[int, ...] = (0,)) -> float:
    """Wall time of ``argv`` run to completion, its output discarded."""
    start = time.perf_counter()
    # Our own commands: this interpreter, the grader, the kit's venv.
    out = subprocess.DEVNULL
    done = subprocess.run(argv, cwd=cwd, env=ENV, stdout=out, check=False)  # noqa: S603
    if done.returncode not in ok:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}")
    return time.perf_counter() - start


def graded(argv: list[str], cwd: Path) -> tuple[int, float]:
    """(exit code, score) of a ``check`` command line, run with ``--format json``."""
    done = subprocess.run(  # noqa: S603 - our own commands
        [*argv, "--format", "json"], cwd=cwd, env=ENV, capture_output=True, text=True, check=False
    )
    try:
        return done.returncode, float(json.loads(done.stdout)["score"])
    except (ValueError, KeyError) as exc:
        raise SystemExit(f"{' '.join(argv)}: no JSON result ({exc}): {done.stderr[-500:]}") from exc


def answers_bytes(wheel: Path) -> int:
    """Compressed bytes of the recorded answers in ``wheel``."""
    with zipfile.ZipFile(wheel) as archive:
        return sum(
            i.compress_size for i in archive.infolist() if i.filename.startswith("nngrader_kit/")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="cs231n-2021", help="course id (or id@offering)")
    parser.add_argument("--sandbox", default=None, help="default: bwrap when usable, else process")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--builds", type=int, default=3)
    args = parser.parse_args()
    sandbox = args.sandbox or ("bwrap" if available_modes().get("bwrap") is None else "process")
    course = args.assignment.partition("@")[0]
    examples = {"correct": (REPO / "examples" / course / "correct", 0)}
    if (REPO / "examples" / course / BUGGY).is_dir():
        examples[BUGGY] = (REPO / "examples" / course / BUGGY, 1)
    else:
        print(f"(no examples/{course}/{BUGGY}: the correct example only)")

    with tempfile.TemporaryDirectory(prefix="nngrader-bench-") as name:
        tmp = Path(name)
        kit_build = [PYTHON, "-m", "grader", "kit", "--assignment", args.assignment]
        kit_times = [
            seconds([*kit_build, "--out", str(tmp / f"kit{i}")], REPO) for i in range(args.builds)
        ]
        full_times = [
            seconds([PYTHON, "-c", FULL_WHEEL, str(tmp / f"full{i}")], REPO)
            for i in range(args.builds)
        ]
        (kit_wheel,) = (tmp / "kit0" / ".nngrader").glob("*.whl")
        (full_wheel,) = (tmp / "full0").glob("*.whl")
        kit_mb, full_mb = kit_wheel.stat().st_size / 1e6, full_wheel.stat().st_size / 1e6
        answers_mb = answers_bytes(kit_wheel) / 1e6

        venv = tmp / "venv"
        bindir = venv / ("Scripts" if os.name == "nt" else "bin")
        start = time.perf_counter()
        seconds([PYTHON, "-m", "venv", str(venv)], tmp)
        pip = [str(bindir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        seconds([*pip, str(kit_wheel)], tmp)
        install = time.perf_counter() - start

        scores: dict[str, float] = {}
        jobs: dict[str, tuple[list[str], Path, int]] = {
            "bare": ([PYTHON, "-c", "import numpy"], REPO, 0)
        }
        for label, (path, code) in examples.items():
            kit = [str(bindir / "nngrader"), "check", str(path), "--sandbox", sandbox]
            full = [PYTHON, "-m", "grader", "check", str(path), "--assignment", args.assignment]
            jobs[f"kit {label}"] = (kit, tmp, code)
            jobs[f"full {label}"] = ([*full, "--sandbox", sandbox], REPO, code)
            got = {who: graded(jobs[f"{who} {label}"][0], jobs[f"{who} {label}"][1])
                   for who in ("kit", "full")}  # fmt: skip
            if got["kit"] != got["full"] or got["kit"][0] != code:
                raise SystemExit(f"{label}: kit and full grader disagree (exit, score): {got}")
            scores[label] = got["kit"][1]
        seconds(jobs["bare"][0], REPO)  # warm, as the --format json runs warmed the checks
        samples: dict[str, list[float]] = {job: [] for job in jobs}
        names = list(jobs)
        for run in range(args.runs):
            shift = run % len(names)
            for job in names[shift:] + names[:shift]:
                argv, cwd, code = jobs[job]
                samples[job].append(seconds(argv, cwd, ok=(code,)))

    med = {job: statistics.median(s) for job, s in samples.items()}
    base = med["bare"]
    kit_build_s, full_build_s = statistics.median(kit_times), statistics.median(full_times)
    print(
        f"{args.assignment}: --sandbox {sandbox}; checks median of {args.runs} interleaved runs, "
        f"builds median of {args.builds}"
    )
    print(f"bare = {Path(PYTHON).name} -c 'import numpy' = {base:.3f} s")
    print(f"{'':<38}{'kit':>10}{'full':>10}{'kit/full':>10}")
    print(f"{'wheel size, MB':<38}{kit_mb:>10.2f}{full_mb:>10.2f}{kit_mb / full_mb:>9.2f}x")
    print(f"{'  of which recorded answers, MB':<38}{answers_mb:>10.2f}")
    print(
        f"{'build, s':<38}{kit_build_s:>10.2f}{full_build_s:>10.2f}"
        f"{kit_build_s / full_build_s:>9.2f}x"
    )
    for label, score in scores.items():
        kit, full = med[f"kit {label}"], med[f"full {label}"]
        print(
            f"{f'check {label} ({score:g} pts), s':<38}{kit:>10.3f}{full:>10.3f}{kit / full:>9.2f}x"
        )
        print(f"{'  / bare':<38}{kit / base:>9.1f}x{full / base:>9.1f}x")
    print(f"venv + pip install of the kit (once, from the package index): {install:.1f} s")


if __name__ == "__main__":
    main()
