"""Attacks on the training check (``train_adam``): its loop runs in the grading process.

The check trains with the student's ``loss`` and update rule, but the loop, the parameters, the
minibatch choice and the validation data stay in the grading process (``grader/checks/
host_training.py``). Each attack is planted, with a wrong-but-harmless change that makes
``train_adam`` fail, in a copy of the base submission (``conftest.py``), and graded beside the same
wrong code without the attack: the attack must not score more, and ``train_adam`` must still fail.

One class stays open and is kept here as a strict xfail: where the update rule is student work,
its answers move the parameters, so a rule that writes weights trained offline (on public
synthetic data) passes; see the test's reason.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest

from tests.hostile import conftest
from tests.hostile.conftest import BASE, LEAK_PY, Graded, Hostile

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

OPTIM = "cs231n/optim.py"
FC_NET = "cs231n/classifiers/fc_net.py"
CHECK = "train_adam"

STILL_ADAM = """

def adam(w, dw, config=None):
    # Broken on purpose: the weights never move.
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-3)
    return w, config
"""

NO_BACKWARD = """

_nng_loss = FullyConnectedNet.loss


def _nng_no_backward(self, X, y=None):
    result = _nng_loss(self, X, y)
    if y is None:
        return result
    loss, grads = result
    return loss, _nng_grads(self, X, loss, {k: 0 * v for k, v in grads.items()})


def _nng_grads(self, X, loss, grads):
    # Broken on purpose: no backward pass. An attack below may steer the gradients.
    return grads


FullyConnectedNet.loss = _nng_no_backward
"""


def planted(**modules: str) -> dict[str, str]:
    """The base's student modules with code appended (``OPTIM``/``FC_NET`` -> code)."""
    return {rel: (BASE / rel).read_text() + code for rel, code in modules.items()}


def graded_pair(
    hostile: Hostile, plain: dict[str, str], attack: dict[str, str], **limits: float
) -> tuple[Graded, Graded]:
    """Grade the wrong code and the same code with the attack; (a) and (c) for the attack."""
    docs = hostile.grade(
        hostile.submission("plain", files=plain),
        hostile.submission("attack", files=attack),
        **limits,
    )
    without, with_attack = docs
    assert without.status(CHECK) == "failed", without.message(CHECK)
    assert with_attack.status(CHECK) != "passed", with_attack.message(CHECK)
    assert with_attack.score <= without.score, (with_attack.score, without.score)
    return without, with_attack


def failed(doc: Graded) -> set[str]:
    """Names of the failed comparisons of ``train_adam``."""
    return {c["name"] for c in doc.test(CHECK)["extra_data"]["comparisons"] if not c["passed"]}


# -- the given Solver is no longer what trains ----------------------------------------------------

PATCH_SOLVER = """

import nngrader_given.solver as _nng_solver


def _nng_good_adam(w, dw, config=None):
    config = {} if config is None else config
    for k, v in (("learning_rate", 1e-3), ("beta1", 0.9), ("beta2", 0.999), ("epsilon", 1e-8)):
        config.setdefault(k, v)
    t = config.get("t", 0) + 1
    m = config["beta1"] * config.get("m", 0 * w) + (1 - config["beta1"]) * dw
    v = config["beta2"] * config.get("v", 0 * w) + (1 - config["beta2"]) * dw**2
    config.update(t=t, m=m, v=v)
    m_hat, v_hat = m / (1 - config["beta1"] ** t), v / (1 - config["beta2"] ** t)
    return w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"]), config


_nng_init = _nng_solver.Solver.__init__


def _nng_patched_init(self, model, data, **kwargs):
    kwargs["update_rule"] = _nng_good_adam  # whoever trains with the Solver gets a working adam
    _nng_init(self, model, data, **kwargs)


_nng_solver.Solver.__init__ = _nng_patched_init
_nng_solver.Solver.train = lambda self, _t=_nng_solver.Solver.train: (
    print("NNG-SOLVER trains"), _t(self))
print("NNG-SOLVER patched")
"""


def test_patching_the_given_solver_from_optim_py_buys_nothing(hostile: Hostile) -> None:
    """Before the loop moved, this one assignment made a broken adam pass ``train_adam``."""
    _, attack = graded_pair(
        hostile, planted(**{OPTIM: STILL_ADAM}), planted(**{OPTIM: STILL_ADAM + PATCH_SOLVER})
    )
    assert "NNG-SOLVER patched" in attack.log  # the patch happened ...
    assert "NNG-SOLVER trains" not in attack.log  # ... and nothing trained with the Solver
    assert "validation accuracy" in failed(attack)


# -- the validation split is nowhere in the student's process --------------------------------------


def _check_data() -> dict[str, np.ndarray]:
    """The synthetic set ``train_adam`` trains on (its params in cs231n-2021.toml, seed 0)."""
    from reference.data import synthetic_dataset

    return synthetic_dataset(500, 200, 1, seed=0, image_shape=(3, 8, 8))


def _shifted_hex(data: bytes) -> str:
    """``data`` with every byte + 1, in hex: the searching code never holds the needle itself,
    so it cannot find its own copy in memory."""
    return bytes((b + 1) % 256 for b in data).hex()


SEARCH_VALIDATION = """

import gc, os, sys

_NNG_PLUS = bytes((b + 1) % 256 for b in range(256))
_NNG_NEEDLES = {NEEDLES}
_NNG_CONTROL = bytes.fromhex({CONTROL!r})  # a training row: the child does receive those
_nng_state = {{"calls": 0, "target": None}}


def _nng_search_bytes(data, found, where):
    shifted = data.translate(_NNG_PLUS)
    for name, needle in _NNG_NEEDLES.items():
        if bytes.fromhex(needle) in shifted:
            found.append((name, where))
    if _NNG_CONTROL in shifted:
        found.append(("control", where))


def _nng_memory(found, arrays):
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            if "r" not in fields[1] or "[v" in line:  # [vvar], [vsyscall]: not readable
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            tail, step = b"", 1 << 24
            for at in range(start, end, step):
                try:
                    mem.seek(at)
                    chunk = mem.read(min(step, end - at))
                except (OSError, ValueError, OverflowError):
                    break
                _nng_search_bytes(tail + chunk, found, "memory")
                tail = chunk[-4096:]


def _nng_objects(found, arrays):
    # Everything reachable from the collector's objects, the modules and the live frames: dicts
    # holding only arrays are not tracked by the collector, so follow the references.
    todo = [*gc.get_objects(), *sys.modules.values(), *sys._current_frames().values()]
    seen = set()
    while todo and len(seen) < 3_000_000:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            if obj.dtype.kind in "iuf" and obj.size >= 16:
                before = len(found)
                _nng_search_bytes(np.ascontiguousarray(obj).tobytes(), found, "objects")
                arrays += [(name, obj) for name, _ in found[before:]]
            continue
        todo += gc.get_referents(obj)


def _nng_files(found, arrays):
    tops = {{os.getcwd(), os.environ.get("HOME", "/"), os.environ.get("TMPDIR", "/tmp"), "/tmp"}}
    tops |= {{"/dev/shm", *[p for p in sys.path if p and "-packages" not in p]}}
    for top in tops:
        for folder, _, names in os.walk(top):
            for name in names:
                try:
                    with open(os.path.join(folder, name), "rb") as f:
                        _nng_search_bytes(f.read(1 << 24), found, "files")
                except OSError:
                    pass


def _nng_steer(params, X_val, y_val):
    # With the validation split in hand: least squares, wired through the ReLU as (x, -x).
    A = np.linalg.lstsq(X_val.reshape(len(X_val), -1), np.eye(10)[y_val], rcond=None)[0]
    A *= 0.05 / np.abs(A).max()
    target = {{k: np.zeros_like(v) for k, v in params.items()}}
    target["W1"][:, :10], target["W1"][:, 10:20] = A, -A
    target["W2"][:10], target["W2"][10:20] = 0.05 * np.eye(10), -0.05 * np.eye(10)
    return target


def _nng_grads(self, X, loss, grads):
    if X.ndim != 4:  # the training check's images; the other checks pass rows
        return grads
    _nng_state["calls"] += 1
    if _nng_state["calls"] in (1, 30):
        found, arrays = [], []
        for search in (_nng_memory, _nng_objects, _nng_files):
            search(found, arrays)
        control = sorted(set(where for name, where in found if name == "control"))
        print("NNG-SEARCHED", _nng_state["calls"], control)
        leaked = sorted(set(f for f in found if f[0] != "control"))
        if leaked:
            print({LEAK}, leaked)
        X_val = [a for n, a in arrays if n == "X_val[0]" and a.shape == (200, 3, 8, 8)]
        y_val = [a for n, a in arrays if n == "y_val" and a.shape == (200,)]
        if X_val and y_val:
            _nng_state["target"] = _nng_steer(self.params, X_val[0], y_val[0])
    target = _nng_state["target"]
    return grads if target is None else {{k: v - target[k] for k, v in self.params.items()}}
"""


def test_a_net_searching_its_process_for_the_validation_split_finds_nothing(
    hostile: Hostile,
) -> None:
    """Memory (all of ``/proc/self/mem``), live objects and readable files are searched for the
    validation rows and labels during training; a training row is the positive control."""
    data = _check_data()
    needles = {
        "y_val": _shifted_hex(data["y_val"].tobytes()),
        "y_val[:16]": _shifted_hex(data["y_val"][:16].tobytes()),
        "X_val[0]": _shifted_hex(data["X_val"][0].tobytes()),
        "X_val[-1]": _shifted_hex(data["X_val"][-1].tobytes()),
    }
    search = SEARCH_VALIDATION.format(
        NEEDLES=needles, CONTROL=_shifted_hex(data["X_train"][123].tobytes()), LEAK=LEAK_PY
    )
    _, attack = graded_pair(
        hostile,
        planted(**{FC_NET: NO_BACKWARD}),
        planted(**{FC_NET: NO_BACKWARD + search}),
        check_seconds=30.0,
    )
    searched = [line for line in attack.log.splitlines() if line.startswith("NNG-SEARCHED")]
    # Both searches ran (the first request and one late in training); each found the control
    # row in memory and among the live arrays, so the search works; nothing else was found.
    assert len(searched) == 2, attack.log[-2000:]
    for line in searched:
        assert "'memory'" in line and "'objects'" in line, line
    assert conftest.LEAK not in attack.log


# -- a given update rule is applied by the grader -------------------------------------------------


def _offline_weights() -> str:
    """Weights trained offline on synthetic data of another seed, as base64 ``.npz``: what a
    student could compute at home and ship in the submission."""
    from reference.data import synthetic_dataset
    from reference.fc_net import FullyConnectedNet
    from reference.optim import adam
    from reference.solver import Solver

    state = np.random.get_state()
    try:
        np.random.seed(1)
        data = synthetic_dataset(1000, 100, 1, seed=12345, image_shape=(3, 8, 8))
        net = FullyConnectedNet([50], input_dim=192, num_classes=10, dtype=np.float64)
        options = {"num_epochs": 5, "batch_size": 50, "optim_config": {"learning_rate": 1e-3}}
        Solver(net, data, update_rule=adam, verbose=False, **options).train()
    finally:
        np.random.set_state(state)
    buffer = io.BytesIO()
    np.savez(buffer, **net.params)
    return base64.b64encode(buffer.getvalue()).decode()


WRITES_WEIGHTS = """

import base64 as _nng_b64, io as _nng_io
from cs231n._nng_weights import DATA as _NNG_DATA

_NNG_W = dict(np.load(_nng_io.BytesIO(_nng_b64.b64decode(_NNG_DATA))))


def adam(w, dw, config=None):
    # Ignores dw: writes the weights of the same shape, trained offline.
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-3)
    for value in _NNG_W.values():
        if value.shape == w.shape:
            if w.shape == _NNG_W["W1"].shape:
                print("NNG-WROTE")
            return value.copy(), config
    return w, config
"""


@pytest.fixture(scope="module")
def offline_weights() -> dict[str, str]:
    return {"cs231n/_nng_weights.py": f"DATA = {_offline_weights()!r}\n"}


def test_an_update_rule_writing_offline_weights_is_not_used_where_the_rule_is_given(
    hostile: Hostile, offline_weights: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """CS231n 2025 gives adam (not student work): the grader applies it, so what optim.py's adam
    returns never reaches the parameters."""
    monkeypatch.setattr(conftest, "ASSIGNMENT", "cs231n-2021@2025")
    plain = planted(**{FC_NET: NO_BACKWARD})
    attack = {**planted(**{FC_NET: NO_BACKWARD, OPTIM: WRITES_WEIGHTS}), **offline_weights}
    _, with_attack = graded_pair(hostile, plain, attack)
    assert "NNG-WROTE" not in with_attack.log  # the student's adam was never even called
    assert "validation accuracy" in failed(with_attack)


@pytest.mark.xfail(
    reason="known gap (issue 10, finding 1 report): where the update rule is student work, its "
    "answers move the parameters held by the grader; a rule that ignores dw and writes weights "
    "trained offline on public synthetic data passes train_adam. Only a comparison of the steps "
    "with the reference rule would close it, and the diagnosis tests require that a rule with "
    "known, still-descending mistakes (adam without bias correction) keeps the training points",
    strict=True,
)
def test_an_update_rule_writing_offline_weights_where_the_rule_is_student_work(
    hostile: Hostile, offline_weights: dict[str, str]
) -> None:
    plain = planted(**{FC_NET: NO_BACKWARD, OPTIM: STILL_ADAM})
    attack = {**planted(**{FC_NET: NO_BACKWARD, OPTIM: WRITES_WEIGHTS}), **offline_weights}
    graded_pair(hostile, plain, attack)


def test_the_check_data_is_what_the_spec_trains_on() -> None:
    """The needles above are only meaningful if they are the check's own data: seed 0 and the
    sizes grader/checks/training.py defaults to (500 training rows, 200 validation rows, 8x8)."""
    from grader import api

    (check,) = [c for c in api.get_spec("cs231n-2021").checks if c.id == CHECK]
    assert check.seed == 0
    assert not {"num_train", "num_val", "image_size"} & set(check.params)
