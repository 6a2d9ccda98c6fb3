"""The runner and the child harness, end to end over real pipes with a toy student module."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from grader.child.protocol import Handle
from grader.errors import StudentCrashed, StudentRaised, StudentTimeout
from grader.sandbox import Limits
from grader.sandbox.session import Session
from grader.workspace.stage import stage_runtime
from tests.grader.conftest import PlainLauncher, toy_session_config

TOY = """
import numpy as np
def double(x):
    return 2 * x, {"note": "cache"}
def back(dout, cache):
    return dout * 3, cache["note"]
def boom(x):
    raise ValueError("bad input " + str(x.shape))
def spin():
    while True:
        pass
def leave():
    import os
    os._exit(0)
def objects():
    return np.array([object()], dtype=object)
def noisy():
    print("hello from the student")
    return 1.5
def dropout_forward(x, dropout_param):
    return x * 7, None
def write_big(n):
    with open("big.bin", "wb") as f:
        f.write(bytes(n))
def flood(lines):
    for _ in range(lines):
        print("x" * 1000)
    return 0
_kept = []
def open_many(n):
    _kept.extend(open(__file__) for _ in range(n))
def close_all():
    while _kept:
        _kept.pop().close()
class Model:
    def __init__(self, n, dtype=np.float32):
        self.params = {"W": np.random.randn(n, n).astype(dtype)}
    def loss(self, X):
        return float(np.sum(X @ self.params["W"]))
"""


@pytest.fixture
def session(tmp_path: Path, plain_launcher) -> Session:
    with Session(toy_session_config(tmp_path, TOY), plain_launcher) as s:
        yield s


class LimitedLauncher(PlainLauncher):
    """A plain launcher that applies the file-size and open-files rlimits of ``limits``
    (no sandbox, no root needed) and, like ``grader.sandbox.Sandbox``, exposes ``limits``."""

    def __init__(self, limits: Limits, cwd: Path) -> None:
        super().__init__()
        self.limits, self.cwd = limits, cwd

    def preexec(self) -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (self.limits.max_file_bytes,) * 2)
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.limits.max_open_files,) * 2)


@pytest.fixture
def limited(tmp_path: Path, session: Session) -> Session:
    """The toy session, restarted under a 1 MiB file-size limit and a 64 open-files limit."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    launcher = LimitedLauncher(Limits(max_file_bytes=2**20, max_open_files=64), scratch)
    with Session(session.config, launcher) as s:
        yield s
    launcher.kill_all()


def deadline(seconds: float = 20.0) -> float:
    return time.monotonic() + seconds


def call(session: Session, attr: str, *args, **fields):
    from grader.child.protocol import Encoder

    when = fields.pop("deadline", None) or deadline()
    enc = Encoder()
    encoded = {
        k: enc.encode(v)
        for k, v in {
            "fn": {"module": "toy", "attr": attr},
            "args": list(args),
            "kwargs": {},
            **fields,
        }.items()
    }
    return session.request("call", when, enc.arrays, **encoded)["value"]


def test_arrays_round_trip_and_caches_stay_in_the_child(session: Session) -> None:
    x = np.arange(6.0).reshape(2, 3)
    out, cache = call(session, "double", x, keep=[1])
    np.testing.assert_array_equal(out, 2 * x)
    assert isinstance(cache, Handle)
    dx, note = call(session, "back", x, cache)
    np.testing.assert_array_equal(dx, 3 * x)
    assert note == "cache"


def test_a_raising_function_reports_type_message_and_keeps_the_child(session: Session) -> None:
    with pytest.raises(StudentRaised, match=r"ValueError: bad input \(2, 3\)") as info:
        call(session, "boom", np.zeros((2, 3)))
    assert "toy.py" in info.value.traceback
    assert call(session, "noisy") == 1.5
    assert session.starts == 1


def test_a_hanging_function_times_out_and_the_next_request_restarts_the_child(
    session: Session,
) -> None:
    with pytest.raises(StudentTimeout):
        call(session, "spin", deadline=deadline(1.0))
    assert call(session, "noisy") == 1.5
    assert session.starts == 2


def test_exiting_inside_a_function_is_a_crash_not_a_hang(session: Session) -> None:
    with pytest.raises(StudentCrashed, match="exited with code 0"):
        call(session, "leave")
    assert call(session, "noisy") == 1.5


def test_object_arrays_never_cross(session: Session) -> None:
    with pytest.raises(StudentRaised, match="dtype object"):
        call(session, "objects")


def test_printed_output_is_captured_off_the_channel(session: Session) -> None:
    offset = session.output_size()
    assert call(session, "noisy") == 1.5
    assert "hello from the student" in session.output_since(offset, 1000)


def test_construct_setitem_and_numgrad(session: Session) -> None:
    from grader.child.protocol import Encoder

    enc = Encoder()
    fields = {
        "fn": {"module": "toy", "attr": "Model"},
        "args": [3],
        "kwargs": {"dtype": "float64"},
        "seed": 0,
    }
    model = session.request(
        "construct", deadline(), enc.arrays, **{k: enc.encode(v) for k, v in fields.items()}
    )
    assert isinstance(model, Handle)
    w = np.eye(3)
    enc = Encoder()
    session.request(
        "setitem",
        deadline(),
        enc.arrays,
        obj=enc.encode({"handle": model.id, "attr": "params"}),
        key="W",
        value=enc.encode(w),
    )
    x = np.arange(6.0).reshape(2, 3)
    enc = Encoder()
    grad = session.request(
        "numgrad",
        deadline(),
        enc.arrays,
        **{
            k: enc.encode(v)
            for k, v in {
                "fn": {"handle": model.id, "attr": "loss"},
                "args": [x],
                "kwargs": {},
                "output": None,
                "wrt": {"obj": {"handle": model.id, "attr": "params"}, "key": "W"},
            }.items()
        },
    )
    # d/dW sum(X @ W) = X^T @ ones
    np.testing.assert_allclose(grad, x.T @ np.ones((2, 3)), atol=1e-6)


def test_the_child_runtime_holds_no_solution_module(tmp_path: Path) -> None:
    runtime = stage_runtime(tmp_path / "rt")
    names = {p.name for p in runtime.rglob("*.py")}
    assert not names & {"layers.py", "layer_utils.py", "optim.py", "fc_net.py"}
    assert {"solver.py", "gradient_check.py", "data.py", "harness.py", "protocol.py"} <= names


def test_the_dropout_patch_lasts_until_the_next_reset(session: Session) -> None:
    from grader.child.protocol import Encoder

    x = np.ones((2, 2))
    mask = np.full((2, 2), 2.0)
    session.request("import", deadline(), module="toy")
    enc = Encoder()
    assert (
        session.request("dropout", deadline(), enc.arrays, masks=enc.encode([mask]))["patched"] == 1
    )
    out, _ = call(session, "dropout_forward", x, {"mode": "train", "p": 0.5})
    np.testing.assert_array_equal(out, 2 * x)
    session.request("reset", deadline(), seed=0)
    out, _ = call(session, "dropout_forward", x, {"mode": "train", "p": 0.5})
    np.testing.assert_array_equal(out, 7 * x)


def test_a_write_past_the_file_size_limit_names_the_limit(limited: Session) -> None:
    with pytest.raises(
        StudentRaised,
        match=r"File too large: file size limit \(1 MiB, printed output included\) exceeded$",
    ) as info:
        call(limited, "write_big", 4 * 2**20)
    assert info.value.type == "OSError" and info.value.limit is not None
    assert call(limited, "noisy") == 1.5  # the child lives on
    assert limited.starts == 1


def test_printing_past_the_file_size_limit_names_the_output(limited: Session) -> None:
    with pytest.raises(
        StudentRaised,
        match=r"file size limit \(1 MiB, printed output included\) exceeded by the printed output",
    ):
        call(limited, "flood", 2000)
    assert limited.output_size() == 2**20  # the capture file stops at the limit


def test_too_many_open_files_names_the_limit(limited: Session) -> None:
    with pytest.raises(StudentRaised, match=r"open files limit \(64\) reached") as info:
        call(limited, "open_many", 100)
    assert "Too many open files" in info.value.detail
    call(limited, "close_all")
    assert call(limited, "noisy") == 1.5


def test_other_errors_name_no_limit(limited: Session) -> None:
    with pytest.raises(StudentRaised) as info:
        call(limited, "boom", np.zeros((2, 3)))
    assert info.value.limit is None and "limit" not in str(info.value)
