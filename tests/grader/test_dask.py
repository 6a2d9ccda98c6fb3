"""Grading on a Dask cluster (``--executor dask``): bundled examples graded by a 2-worker
``LocalCluster``, one worker SIGKILLed while it grades; every submission still ends with one
result, finalised once, and the one that lost its worker was tried twice."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from grader import api
from grader.executors.shipped import pack, unpack
from grader.store import Store

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "cs231n-2021"
GRADED = ["correct", "bug-relu-backward", "bug-softmax-no-mean", "bug-momentum-sign"]
PATIENCE = 120.0
"""Seconds to wait for what the test needs (generous: it only bounds a test that fails)."""


def test_a_submission_travels_as_bytes_and_unpacks_the_same(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "cs231n" / "classifiers").mkdir(parents=True)
    (src / "cs231n" / "classifiers" / "fc_net.py").write_bytes(b"class FullyConnectedNet: ...\n")
    (src / "empty").mkdir()
    odd = os.path.join(os.fsencode(src), b"caf\xe9.py")  # a name that is not UTF-8
    with open(odd, "wb") as file:
        file.write(b"x = 1\n")
    unpack(pack(src), tmp_path / "dst")
    found = sorted(
        p.relative_to(tmp_path / "dst").as_posix() for p in (tmp_path / "dst").rglob("*")
    )
    assert found == sorted(p.relative_to(src).as_posix() for p in src.rglob("*"))
    assert (tmp_path / "dst" / os.fsdecode(b"caf\xe9.py")).read_bytes() == b"x = 1\n"


def _children(pid: int) -> list[int]:
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not EXAMPLES.is_dir(), reason=f"bundled examples {EXAMPLES} missing")
def test_a_local_cluster_grades_and_survives_a_worker_killed_mid_task(tmp_path: Path) -> None:
    out = tmp_path / "out"
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, memory_limit=0, dashboard_address=":0"
    )
    client = distributed.Client(cluster)
    killed: list[int] = []

    def kill_a_busy_worker() -> None:
        """SIGKILL the first worker seen running a sandboxed child (so, mid-task)."""
        pids = list(client.run(os.getpid).values())
        end = time.monotonic() + PATIENCE
        while time.monotonic() < end and not killed:
            for pid in pids:
                if _children(pid):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    break
            time.sleep(0.01)

    killer = threading.Thread(target=kill_a_busy_worker)
    try:
        killer.start()
        results = api.grade(
            [EXAMPLES / name for name in GRADED], out=out, assignment="cs231n-2021",
            sandbox="process", limits={"check_seconds": 5.0}, executor="dask",
            scheduler=cluster.scheduler_address,
        )  # fmt: skip
        killer.join(PATIENCE)
    finally:
        client.close()
        cluster.close()
    assert killed, "no worker was seen grading"
    assert [r.name for r in results] == GRADED
    scores = {r.name: r.score for r in results}
    assert scores["correct"] == 59.0 and all(scores[n] < 59.0 for n in GRADED[1:])
    for name in GRADED:
        doc = json.loads((out / name / "results.json").read_text())
        assert doc["score"] == scores[name] and not doc["extra_data"]["error"]
    with Store.open(out) as store:
        rows: list[Any] = list(store.rows())
    assert [(r.state, r.finalised) for r in rows] == [("done", 1)] * len(GRADED)
    assert sorted(r.attempts for r in rows) == [1] * (len(GRADED) - 1) + [2]
    (retried,) = (r for r in rows if r.attempts == 2)
    assert "died while grading it" in (retried.reason or "")
