"""Per-submission cost of the sandbox: start the child, one protocol round trip, teardown.

Compared with a bare interpreter importing numpy (the real binary, not a shim), measured in the
same run. The child itself imports numpy, so the ratio is the sandbox's overhead on top of that.

    python bench/sandbox_overhead.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grader.runner import Session, SessionConfig, stage_runtime  # noqa: E402
from grader.sandbox import Limits, Sandbox, available_modes  # noqa: E402

PYTHON = os.path.realpath(sys.executable)


def bare(runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([PYTHON, "-c", "import numpy"], check=True)
        out.append(time.perf_counter() - start)
    return out


def sandboxed(mode: str, runs: int) -> list[float]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        runtime = stage_runtime(root / "runtime")
        ws = root / "ws" / "pkg"
        ws.mkdir(parents=True)
        (ws / "__init__.py").write_text("")
        (ws / "toy.py").write_text("def one():\n    return 1\n")
        for i in range(runs):
            scratch = root / f"scratch{i}"
            scratch.mkdir()
            start = time.perf_counter()
            with Sandbox(mode=mode, workspace=root / "ws", scratch=scratch, ro_paths=[runtime], limits=Limits()) as box:
                config = SessionConfig(runtime=runtime, workspace=root / "ws", modules={"toy": "pkg.toy"},
                                       compat=False, output_path=root / f"out{i}.txt")
                with Session(config, box) as session:
                    session.request("call", time.monotonic() + 30, fn={"module": "toy", "attr": "one"},
                                    args=[], kwargs={})
            out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    med = statistics.median
    base = med(bare(args.runs))
    print(f"bare interpreter importing numpy: {base:.3f} s (median of {args.runs})")
    for mode in ("process", "bwrap"):
        problem = available_modes()[mode]
        if problem:
            print(f"{mode:>7}: unavailable ({problem})")
            continue
        cost = med(sandboxed(mode, args.runs))
        print(f"{mode:>7}: {cost:.3f} s per submission (start + 1 request + teardown) = {cost / base:.2f}x bare")


if __name__ == "__main__":
    main()
