"""The grading service under a class's deadline: 200 students upload at once.

Starts ``python -m grader serve`` (``--workers 2``, ``--sandbox process``) on loopback with a
course of ``--count`` students, each with a token of their own, graded against cs231n-2021
reduced to its cheapest check (``affine_forward``; a one-file upload), so that what is measured
is the service: the queue, the worker pool, the spawned child each job gets. Then:

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
import io
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
PYTHON = os.path.realpath(sys.executable)
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
SPEC = "tiny.toml"
KEEP = ("layout.student", "layout.given", "layout.stand_ins", "api", "limits", "tolerance")
POLLERS = 8


def tiny_spec(folder: Path) -> None:
    """cs231n-2021 with its ``affine_forward`` check only, as ``folder/tiny.toml``."""
    text = (REPO / "assignments" / "cs231n-2021.toml").read_text(encoding="utf-8")
    blocks = [b for b in re.split(r"(?m)^(?=\[)", text) if b.startswith("[")]
    kept = [b for b in blocks if b.splitlines()[0].strip("[] ") in KEEP]
    check = next(b for b in blocks if b.startswith("[[checks]]") and '"affine_forward"' in b)
    head = 'schema_version = 1\nid = "load-tiny"\ntitle = "cs231n-2021: affine_forward only"\n'
    part = '[[parts]]\nid = "fc"\ntitle = "FullyConnectedNets.ipynb"\n'
    (folder / SPEC).write_text("\n".join([head, *kept, part, check]), encoding="utf-8")


def submission(folder: Path) -> bytes:
    """The correct example's layers.py, as a folder (for the local check) and zipped."""
    layers = (REPO / "examples" / "cs231n-2021" / "correct" / "cs231n" / "layers.py").read_bytes()
    (folder / "sub" / "cs231n").mkdir(parents=True)
    (folder / "sub" / "cs231n" / "layers.py").write_bytes(layers)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("cs231n/layers.py", layers)
    return buf.getvalue()


def config(folder: Path, count: int) -> dict[str, str]:
    """The service's configuration file (``folder/service.toml``); each student's token."""
    tokens = {f"s{i:03d}": f"token-{i:03d}" for i in range(count)}
    lines = ["[service]", 'secret = "bench"', f"max_queue = {10 * count}", "",
             "[courses.bench]", f'assignment = "{SPEC}"', 'token = "course"',
             "[courses.bench.students]", *(f'{n} = "{t}"' for n, t in tokens.items())]  # fmt: skip
    (folder / "service.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tokens


def local_check(folder: Path, repeat: int) -> float:
    """Median wall time of ``nngrader check`` of the same submission, here."""
    argv = [PYTHON, "-m", "grader", "check", "sub", "--assignment", SPEC, "--sandbox", "process"]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, cwd=folder, env=ENV, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def serve(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = [PYTHON, "-m", "grader", "serve", "--config", "service.toml", "--db", "jobs.sqlite",
            "--workers", "2", "--sandbox", "process", "--port", str(port)]  # fmt: skip
    process = subprocess.Popen(argv, cwd=folder, env=ENV, stdout=subprocess.DEVNULL,  # noqa: S603
                               stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/openapi.json", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("the service did not start")


def upload_all(url: str, tokens: dict[str, str], data: bytes) -> dict[str, tuple[str, float]]:
    """Every student posts at once: student -> (job, when the upload started, Unix time)."""
    barrier = threading.Barrier(len(tokens))

    def one(name: str) -> tuple[str, tuple[str, float]]:
        mine = {"Authorization": f"Bearer {tokens[name]}"}
        with httpx.Client(base_url=url, timeout=300, headers=mine) as client:
            barrier.wait()
            start = time.time()
            answer = client.post(f"/api/assignments/{SPEC}/submissions",
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
        data = submission(folder)
        tokens = config(folder, args.count)
        local = local_check(folder, args.repeat)
        process, url = serve(folder)
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
            process.terminate()
            process.wait()
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
