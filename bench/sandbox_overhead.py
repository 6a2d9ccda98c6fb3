"""Per-submission cost of the sandbox, phase by phase, against a bare interpreter importing numpy.

For each mode (bwrap, process) one submission's life is timed in four phases:

    staging   stage the child runtime, copy the workspace, build the Sandbox (uid claim, cgroup,
              access grants, numpy-only PYTHONPATH)
    start     spawn the child until its first reply (the ``init`` exchange; it imports numpy)
    protocol  one typical request round trip: a call on a 100x100 float64 array (median of 5)
    teardown  stop the session, close the sandbox (kill sweep, cgroup removal), delete the files

The baseline is the same interpreter run directly, with the child's flags (``-S -B``) and
PYTHONPATH pointing at numpy, doing ``import numpy``. Baseline and modes are measured interleaved
(round-robin, order rotated every run) so that machine load affects all of them alike.

    python bench/sandbox_overhead.py [--runs 10]
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
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: make the repository's packages importable

from grader.child.protocol import Encoder  # noqa: E402
from grader.sandbox import Limits, Sandbox, available_modes  # noqa: E402
from grader.sandbox.launch import THREAD_VARS  # noqa: E402 - needs the sys.path insert above
from grader.sandbox.paths import numpy_path  # noqa: E402 - needs the sys.path insert above
from grader.sandbox.session import Session, SessionConfig  # noqa: E402
from grader.workspace.stage import stage_runtime  # noqa: E402

PHASES = ("staging", "start", "protocol", "teardown")
TOY = "def scale(x):\n    return 2 * x\n"
REQUESTS = 5


def bare() -> float:
    """Seconds for the bare interpreter (child flags, numpy on PYTHONPATH) to import numpy."""
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": os.pathsep.join(numpy_path()),
        "PYTHONHASHSEED": "0",
        **{var: "1" for var in THREAD_VARS},
    }  # as pinned in the child: BLAS starts no extra threads
    start = time.perf_counter()
    subprocess.run([sys.executable, "-S", "-B", "-c", "import numpy"], env=env, check=True)
    return time.perf_counter() - start


def submission(mode: str, source: Path, root: Path) -> dict[str, float]:
    """Seconds per phase of one submission's life in ``mode``."""
    times: dict[str, float] = {}
    x = np.random.default_rng(0).standard_normal((100, 100))
    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(dir=root))
    runtime = stage_runtime(work / "runtime")
    workspace = work / "src"
    shutil.copytree(source, workspace)
    scratch = work / "scratch"
    scratch.mkdir()
    box = Sandbox(
        mode=mode, workspace=workspace, scratch=scratch, ro_paths=[runtime], limits=Limits()
    )
    config = SessionConfig(
        runtime=runtime,
        workspace=workspace,
        modules={"toy": "pkg.toy"},
        compat=False,
        output_path=work / "output.txt",
    )
    session = Session(config, box)
    t1 = time.perf_counter()
    # Spawn and the init exchange, which the first request does implicitly; timed on their own.
    session._start(time.monotonic() + 60)
    t2 = time.perf_counter()
    trips = []
    for _ in range(REQUESTS):
        enc = Encoder()
        fields = {
            k: enc.encode(v)
            for k, v in {
                "fn": {"module": "toy", "attr": "scale"},
                "args": [x],
                "kwargs": {},
            }.items()
        }
        start = time.perf_counter()
        out = session.request("call", time.monotonic() + 60, enc.arrays, **fields)
        trips.append(time.perf_counter() - start)
        if out["value"].shape != (100, 100):  # the round trip must really carry the array
            raise RuntimeError("unexpected reply")
    t3 = time.perf_counter()
    session.stop()
    box.close()
    shutil.rmtree(work)
    t4 = time.perf_counter()
    times["staging"], times["start"], times["teardown"] = t1 - t0, t2 - t1, t4 - t3
    times["protocol"] = statistics.median(trips)
    times["total"] = times["staging"] + times["start"] + times["protocol"] + times["teardown"]
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    modes = [m for m in ("bwrap", "process") if available_modes()[m] is None]
    for mode in ("bwrap", "process"):
        if mode not in modes:
            print(f"{mode}: unavailable ({available_modes()[mode]})")
    with tempfile.TemporaryDirectory(prefix="nngrader-bench-") as tmp:
        root = Path(tmp)
        source = root / "submission"
        (source / "pkg").mkdir(parents=True)
        (source / "pkg" / "__init__.py").write_text("")
        (source / "pkg" / "toy.py").write_text(TOY)
        jobs: dict[str, Callable[[], dict[str, float]]] = {"bare": lambda: {"total": bare()}}
        for mode in modes:
            jobs[mode] = lambda mode=mode: submission(mode, source, root)  # type: ignore[misc]
        for job in jobs.values():  # warm the page cache and the lazy imports once, untimed
            job()
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in jobs}
        names = list(jobs)
        for run in range(args.runs):
            shift = run % len(names)
            for name in names[shift:] + names[:shift]:
                samples[name].append(jobs[name]())
    med = {
        name: {key: statistics.median(s[key] for s in runs) for key in runs[0]}
        for name, runs in samples.items()
    }
    base = med["bare"]["total"]
    print(
        f"median of {args.runs} interleaved runs, milliseconds; "
        f"bare = {Path(sys.executable).name} -S -B -c 'import numpy' = {base * 1e3:.1f} ms"
    )
    print(
        f"{'mode':<8}"
        + "".join(f"{p:>10}" for p in (*PHASES, "total"))
        + f"{'total/bare':>12}{'start/bare':>12}"
    )
    for mode in modes:
        row = med[mode]
        print(
            f"{mode:<8}"
            + "".join(f"{row[p] * 1e3:>10.1f}" for p in (*PHASES, "total"))
            + f"{row['total'] / base:>11.2f}x{row['start'] / base:>11.2f}x"
        )


if __name__ == "__main__":
    main()
