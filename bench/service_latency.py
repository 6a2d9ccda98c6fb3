"""The grading service under a class's deadline: 200 students upload at once.

Starts ``python -m grader serve`` (``--workers 2``, ``--sandbox process``) on loopback with a
course of ``--count`` students, each with a token of their own, graded against cs231n-2021
reduced to its cheapest check (``affine_forward``; a one-file upload), so that what is measured
is the service: the queue, the worker pool, the child each job gets (from the fork server).
The scenario is the load test's (tests/grader/service/scenario.py). Then:

* **latency**, upload to finished report: every student posts at once (a thread and an httpx
  client each, released by a barrier); a job's latency is its ``finished`` time minus the
  moment its upload started (one clock: same machine). Printed: p50 and p99, the grading alone
  (``finished - started``), the wall time of the whole class, and each as a ratio to the local
  ``nngrader check`` of the same submission (median of ``--repeat`` runs, same run, before the
  service starts);
* **status polls per second**, ``GET /api/jobs/{id}`` (token lookup, a row read) from 8 client
  threads for ``--poll`` seconds while the workers grade, against ``GET /openapi.json`` (a
  cached document: the framework's own floor) polled the same way, interleaved, in the same run.

    python bench/service_latency.py [--count 200] [--repeat 3] [--poll 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the load test's scenario (tests/grader/service/scenario.py)

from tests.grader.service.scenario import (  # noqa: E402 - after the path above
    TINY,
    ServiceProcess,
    students_config,
    tiny_spec,
    tiny_upload,
)

PYTHON = os.path.realpath(sys.executable)
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
POLLERS = 8


def local_check(folder: Path, data: bytes, repeat: int) -> float:
    """Median wall time of ``nngrader check`` of the same submission (``data`` unzipped), here."""
    with zipfile.ZipFile(BytesIO(data)) as archive:
        archive.extractall(folder / "sub")
    argv = [PYTHON, "-m", "grader", "check", "sub", "--assignment", TINY, "--sandbox", "process"]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, cwd=folder, env=ENV, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def upload_all(url: str, tokens: dict[str, str], data: bytes) -> dict[str, tuple[str, float]]:
    """Every student posts at once: student -> (job, when the upload started, Unix time)."""
    barrier = threading.Barrier(len(tokens))

    def one(name: str) -> tuple[str, tuple[str, float]]:
        mine = {"Authorization": f"Bearer {tokens[name]}"}
        with httpx.Client(base_url=url, timeout=300, headers=mine) as client:
            barrier.wait()
            start = time.time()
            answer = client.post(f"/api/assignments/{TINY}/submissions",
                                 files={"file": ("hw.zip", data, "application/zip")})  # fmt: skip
        answer.raise_for_status()
        return name, (answer.json()["job"], start)

    with ThreadPoolExecutor(len(tokens)) as pool:
        return dict(pool.map(one, tokens))


def polls_per_second(url: str, path: str, headers: dict[str, str], seconds: float) -> float:
    """Requests answered per second, ``POLLERS`` clients asking ``path`` back to back."""
    stop = time.monotonic() + seconds
    counts = [0] * POLLERS

    def poll(i: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            while time.monotonic() < stop:
                client.get(path).raise_for_status()
                counts[i] += 1

    start = time.monotonic()
    with ThreadPoolExecutor(POLLERS) as pool:
        list(pool.map(poll, range(POLLERS)))
    return sum(counts) / (time.monotonic() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--poll", type=float, default=3.0, help="seconds per polling round")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nngrader-bench-") as tmp:
        folder = Path(tmp)
        tiny_spec(folder)
        data = tiny_upload()
        config, tokens = students_config(folder, args.count)
        local = local_check(folder, data, args.repeat)
        service = ServiceProcess(folder, config, folder / "jobs.sqlite", workers=2)
        url = service.url
        try:
            began = time.time()
            jobs = upload_all(url, tokens, data)
            uploaded = time.time() - began
            # Polling while the workers grade: the service as students see it at a deadline.
            name, (job, _) = next(iter(jobs.items()))
            mine = {"Authorization": f"Bearer {tokens[name]}"}
            status_rates, floor_rates = [], []
            for _ in range(2):
                status_rates.append(polls_per_second(url, f"/api/jobs/{job}", mine, args.poll))
                floor_rates.append(polls_per_second(url, "/openapi.json", {}, args.poll))
            with httpx.Client(base_url=url, timeout=60) as client:
                while True:
                    found = {n: client.get(f"/api/jobs/{j}", headers={
                        "Authorization": f"Bearer {tokens[n]}"}).json() for n, (j, _) in
                        jobs.items()}  # fmt: skip
                    if all(s["state"] in ("done", "failed") for s in found.values()):
                        break
                    time.sleep(1.0)
        finally:
            service.stop()
    assert all(s["state"] == "done" for s in found.values()), found  # noqa: S101
    latency = sorted(found[n]["finished"] - start for n, (_, start) in jobs.items())
    grading = sorted(s["finished"] - s["started"] for s in found.values())
    wall = max(s["finished"] for s in found.values()) - began
    p50, p99 = statistics.median(latency), latency[min(len(latency) - 1, int(0.99 * len(latency)))]
    status, floor = statistics.median(status_rates), statistics.median(floor_rates)
    print(json.dumps({"students": args.count, "workers": 2, "sandbox": "process",
                      "cpus": os.cpu_count(), "load_average": os.getloadavg()[0]}))  # fmt: skip
    print(f"baseline: local `nngrader check` of the same submission   {local:7.2f} s")
    print(f"uploads: {args.count} taken in {uploaded:.2f} s")
    print(f"upload -> finished report  p50  {p50:7.2f} s  {p50 / local:7.1f}x local check")
    print(f"upload -> finished report  p99  {p99:7.2f} s  {p99 / local:7.1f}x local check")
    print(f"grading alone (claimed -> stored) p50 {statistics.median(grading):5.2f} s  "
          f"{statistics.median(grading) / local:5.2f}x local check")  # fmt: skip
    print(f"whole class graded in {wall:.1f} s: {args.count / wall:.2f} jobs/s, "
          f"{wall / args.count * 2:.2f} s per job per worker")  # fmt: skip
    print(f"GET /api/jobs/{{id}}  {status:8.0f} req/s  {status / floor:5.2f}x GET /openapi.json "
          f"({floor:.0f} req/s), {POLLERS} clients, during the grading")  # fmt: skip


if __name__ == "__main__":
    main()
