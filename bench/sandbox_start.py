"""Where a bwrap sandbox start goes, step by step, against a bare ``python -c 'import numpy'``.

A submission's child costs: building the ``Sandbox`` (uid claim, cgroup, access grants, scratch
tmpfs, seccomp filter), spawning it (bwrap's namespaces and mounts, the uid drop, the interpreter,
numpy, the harness), the ``init`` exchange, its first request, and its teardown (the kill, the
scratch unmount, the cgroup removal, the leftover sweep, the uid's release). This bench times:

* **the start as one figure**: ``start`` (spawn until the ``init`` reply), ``first request`` (a
  call on a 100x100 array, the first one after the start) and ``teardown`` (``Session.stop`` plus
  ``Sandbox.close``); their sum is the issue's "sandbox start";
* **a ladder** of processes run to completion in one live sandbox, each rung adding one layer, so
  that the difference between rungs is that layer's cost: ``/bin/true`` by vfork, then with the
  cgroup and the rlimits as ``Sandbox.spawn`` sets them (the gate as root, else the pre-exec
  fork), then inside bwrap's namespaces alone, with the sandbox's mounts, with the seccomp
  filter, with the uid drop (``setpriv``), then the interpreter (``python -S -B -c pass``),
  ``import numpy``, and numpy plus the harness modules (from the runtime's pycs);
* **the steps inside** ``Sandbox()`` and its teardown, by wrapping the sandbox's own functions.

Every figure is a median over interleaved runs, printed in milliseconds and as a ratio to the
bare interpreter of the same run: ``python -c 'import numpy'`` (the real binary, site included),
the baseline of the issue. ``-S -B`` (the child's own flags) is printed too, as the floor.

    python bench/sandbox_start.py [--runs 15]
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: make the repository's packages importable

from grader.child.protocol import Encoder  # noqa: E402
from grader.sandbox import Limits, Sandbox, available_modes, launch  # noqa: E402
from grader.sandbox import cgroup as cgroup_module  # noqa: E402
from grader.sandbox.launch import THREAD_VARS  # noqa: E402
from grader.sandbox.paths import numpy_path  # noqa: E402
from grader.sandbox.seccomp import filter_pipe  # noqa: E402
from grader.sandbox.session import Session, SessionConfig  # noqa: E402
from grader.workspace.stage import stage_runtime  # noqa: E402

# An older checkout may predate the runtime's bytecode and the gated spawn: then the child
# compiles its modules, and every spawn forks the grading process for its pre-exec.
try:
    from grader.sandbox.bytecode import precompile
    from grader.sandbox.gate import spawn_gated
except ImportError:
    precompile = spawn_gated = None  # type: ignore[assignment]

PYTHON = os.path.realpath(sys.executable)
TOY = "def scale(x):\n    return 2 * x\n"
BWRAP = shutil.which("bwrap") or "bwrap"
NAMESPACES = [
    BWRAP,
    "--die-with-parent",
    "--new-session",
    "--unshare-pid",
    "--unshare-net",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--ro-bind",
    "/",
    "/",
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--",
]
"""bwrap's namespaces alone: the whole host filesystem read-only, none of the sandbox's mounts."""
SANDBOX_STEPS = ("claim_uid", "grant_access", "userns_filter")
"""Functions ``launch`` calls while building a ``Sandbox`` or tearing it down, timed by name."""
TEARDOWN_STEPS = ("kill_uid", "settle_uid", "reap_adopted", "sweep_leftovers", "release_uid")
METHODS = (
    (cgroup_module.CGroup, "create", "cgroup create"),
    (cgroup_module.CGroup, "kill_all", "cgroup kill"),
    (cgroup_module.CGroup, "remove", "cgroup remove"),
    (launch.ScratchDisk, "open", "scratch mount"),
    (launch.ScratchDisk, "close", "scratch unmount"),
)
RECORDED: dict[str, float] = defaultdict(float)


def record(owner: Any, name: str, label: str) -> None:
    """Wrap ``owner.name`` so that each call adds its seconds to ``RECORDED[label]``."""
    original = owner.__dict__.get(name)
    if original is None:
        return  # this checkout does not have that step
    method = original.__func__ if isinstance(original, classmethod) else original

    @functools.wraps(method)
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            RECORDED[label] += time.perf_counter() - start

    setattr(owner, name, classmethod(timed) if isinstance(original, classmethod) else timed)


def bare(flags: list[str]) -> float:
    """Seconds for the real interpreter, with ``flags``, to ``import numpy``.

    BLAS is pinned to one thread as in the child (``Limits.threads``): with a thread per core,
    numpy's import alone costs more, and the ratio would flatter the sandbox.
    """
    env = {**os.environ, **dict.fromkeys(THREAD_VARS, "1")}
    if "-S" in flags:  # without site, numpy comes from PYTHONPATH, as in the child
        env["PYTHONPATH"] = os.pathsep.join(numpy_path())
    start = time.perf_counter()
    subprocess.run([PYTHON, *flags, "-c", "import numpy"], env=env, check=True)  # noqa: S603
    return time.perf_counter() - start


@contextmanager
def submission(source: Path, root: Path) -> Iterator[tuple[Sandbox, Session, Path]]:
    """A staged toy submission, its sandbox and its session (not started)."""
    work = Path(tempfile.mkdtemp(dir=root))
    runtime = stage_runtime(work / "runtime")
    workspace = work / "src"
    shutil.copytree(source, workspace)
    scratch = work / "scratch"
    scratch.mkdir()
    config = SessionConfig(
        runtime=runtime,
        workspace=workspace,
        modules={"toy": "pkg.toy"},
        compat=False,
        output_path=work / "output.txt",
    )
    built = time.perf_counter()
    box = Sandbox(
        mode="bwrap", workspace=workspace, scratch=scratch, ro_paths=[runtime], limits=Limits()
    )
    RECORDED["Sandbox()"] += time.perf_counter() - built
    try:
        yield box, Session(config, box), runtime
    finally:
        box.close()
        shutil.rmtree(work)


def call(session: Session, x: np.ndarray) -> float:
    """Seconds of one ``call`` request carrying ``x`` there and back."""
    enc = Encoder()
    fields = {
        k: enc.encode(v)
        for k, v in {"fn": {"module": "toy", "attr": "scale"}, "args": [x], "kwargs": {}}.items()
    }
    start = time.perf_counter()
    out = session.request("call", time.monotonic() + 60, enc.arrays, **fields)
    took = time.perf_counter() - start
    if out["value"].shape != x.shape:  # the round trip must really carry the array
        raise RuntimeError("unexpected reply")
    return took


def lifecycle(source: Path, root: Path) -> dict[str, float]:
    """Seconds of each step of one child's life, from ``Sandbox()`` to the released uid."""
    RECORDED.clear()
    x = np.random.default_rng(0).standard_normal((100, 100))
    times: dict[str, float] = {}
    with submission(source, root) as (box, session, _runtime):
        started = time.perf_counter()
        session._start(time.monotonic() + 60)  # spawn and the init exchange, on their own
        times["start"] = time.perf_counter() - started
        times["first request"] = call(session, x)
        times["later request"] = statistics.median(call(session, x) for _ in range(3))
        stop = time.perf_counter()
        session.stop()
        times["Session.stop"] = time.perf_counter() - stop
        close = time.perf_counter()
        box.close()
        times["Sandbox.close"] = time.perf_counter() - close
    times["teardown"] = times["Session.stop"] + times["Sandbox.close"]
    times["sandbox start"] = times["start"] + times["first request"] + times["teardown"]
    times.update(RECORDED)
    return times


def ladder(box: Sandbox, runtime: Path) -> dict[str, float]:
    """Seconds of each rung: a process run to completion with one more layer than the last."""
    harness = f"import sys; sys.path.insert(0, {str(runtime)!r}); import nngrader_child.harness"
    python = [PYTHON, "-S", "-B", "-c"]

    def inside(fd: int | None, *, uid: bool = True) -> list[str]:
        args = box._bwrap_prefix(fd)
        return args if uid else args[: args.index("--", args.index("--chdir")) + 1]

    def run(argv: Callable[[int | None], list[str]], *, seccomp: bool, preexec: bool) -> float:
        gated = preexec and getattr(box, "_gated", False)  # as Sandbox.spawn starts it
        with filter_pipe(box._seccomp if seccomp else None) as fd, open(os.devnull, "wb") as out:
            fds = () if fd is None else (fd,)
            start = time.perf_counter()
            if gated:
                proc = spawn_gated(
                    argv(fd),
                    prepare=box._prepare,
                    stdout=out,
                    pass_fds=fds,
                    env=box.env,
                    cwd=box.scratch,
                )
            else:
                proc = subprocess.Popen(  # noqa: S603 - our own command lines
                    argv(fd),
                    stdout=out,
                    env=box.env,
                    cwd=box.scratch,
                    pass_fds=fds,
                    start_new_session=True,
                    preexec_fn=box._preexec if preexec else None,
                )
            code = proc.wait()
        took = time.perf_counter() - start
        box.kill_all()
        if code != 0:
            raise RuntimeError(f"a rung failed with {code}: {argv(None)[-1]}")
        return took

    true = ["/bin/true"]
    rungs: dict[str, tuple[Callable[[int | None], list[str]], bool, bool]] = {
        "/bin/true (vfork)": (lambda fd: true, False, False),
        "+ cgroup and rlimits (as spawn sets them)": (lambda fd: true, False, True),
        "+ bwrap namespaces": (lambda fd: [*NAMESPACES, *true], False, True),
        "+ the sandbox's mounts": (lambda fd: [*inside(None, uid=False), *true], False, True),
        "+ seccomp filter": (lambda fd: [*inside(fd, uid=False), *true], True, True),
        "+ uid drop (setpriv)": (lambda fd: [*inside(fd), *true], True, True),
        "+ python -S -B": (lambda fd: [*inside(fd), *python, "pass"], True, True),
        "+ import numpy": (lambda fd: [*inside(fd), *python, "import numpy"], True, True),
        "+ the harness": (lambda fd: [*inside(fd), *python, harness], True, True),
    }
    return {
        name: run(argv, seccomp=seccomp, preexec=preexec)
        for name, (argv, seccomp, preexec) in rungs.items()
    }


def one_run(source: Path, root: Path) -> dict[str, float]:
    """Every figure of one run: the baselines, one child's life, and the ladder."""
    times = {"bare": bare([]), "bare -S -B": bare(["-S", "-B"])}
    times.update(lifecycle(source, root))
    with submission(source, root) as (box, _session, runtime):
        if precompile is not None:
            precompile(runtime)  # as Session does before its first child
        times.update(ladder(box, runtime))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    problem = available_modes()["bwrap"]
    if problem is not None:
        raise SystemExit(f"bwrap unavailable: {problem}")
    if os.geteuid() != 0:
        print("not root: no uid drop, no cgroup, no scratch tmpfs (figures are not a grader's)")
    for owner, name, label in METHODS:
        record(owner, name, label)
    for name in (*SANDBOX_STEPS, *TEARDOWN_STEPS):
        record(launch, name, name)
    with tempfile.TemporaryDirectory(prefix="nngrader-bench-") as tmp:
        root = Path(tmp)
        source = root / "submission"
        (source / "pkg").mkdir(parents=True)
        (source / "pkg" / "__init__.py").write_text("")
        (source / "pkg" / "toy.py").write_text(TOY)
        one_run(source, root)  # warm the page cache and the lazy imports once, untimed
        runs = [one_run(source, root) for _ in range(args.runs)]
    med = {key: statistics.median(run.get(key, 0.0) for run in runs) for key in runs[0]}
    base = med["bare"]

    def row(name: str, seconds: float, note: str = "") -> None:
        print(f"  {name:<40}{seconds * 1e3:9.1f} ms{seconds / base:8.2f}x  {note}")

    print(
        f"median of {args.runs} runs; bare = {Path(PYTHON).name} -c 'import numpy' = "
        f"{base * 1e3:.1f} ms (1.00x)"
    )
    row("bare -S -B (the child's flags)", med["bare -S -B"])
    print("a child's life:")
    for key in ("Sandbox()", "start", "first request", "later request", "Session.stop"):
        row(key, med[key])
    row("Sandbox.close", med["Sandbox.close"])
    row("sandbox start = start + first request + teardown", med["sandbox start"])
    print("inside Sandbox() and the teardown (summed per child):")
    for label in (*SANDBOX_STEPS, *(m[2] for m in METHODS), *TEARDOWN_STEPS):
        if label in med:
            row(label, med[label])
    print("the ladder (each rung a whole process; the difference to the rung above is the layer):")
    previous = 0.0
    for name in runs[0]:
        if name.startswith(("/bin/true", "+ ")):
            row(name, med[name], f"(+{(med[name] - previous) * 1e3:.1f} ms)" if previous else "")
            previous = med[name]


if __name__ == "__main__":
    main()
