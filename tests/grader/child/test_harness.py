"""The child's ops (``grader/child/harness.py``), driven over real pipes as the host drives them.

One child serves the whole module, as one child serves a whole submission; before every test it
gets the ``reset`` the check engine sends before every check. Requests are encoded the way
``Context.request`` encodes them. The toy submission is a package ``toyws`` with ``layers``,
``optim`` and ``fc_net`` modules.
"""

from __future__ import annotations

import importlib
import platform
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grader.child.protocol import Encoder, Handle
from grader.errors import StudentMissing, StudentRaised, StudentUngradable
from grader.sandbox.session import Session, SessionConfig
from grader.workspace.stage import stage_runtime
from tests.grader.conftest import PlainLauncher

LAYERS = '''
import numpy as np

SCALE = 2.5


def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    dx = (dout @ w.T).reshape(x.shape)
    return dx, x.reshape(x.shape[0], -1).T @ dout, dout.sum(axis=0)


def softmax_loss(x, y):
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = x.shape[0]
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1
    return -log_probs[np.arange(n), y].mean(), dx / n


def cube(x):
    return float(np.sum(x**3)), "not differentiated"


def normalize(x, bn_param, momentum=0.9):
    running = bn_param.get("running_mean", np.zeros(x.shape[1]))
    bn_param["running_mean"] = momentum * running + (1 - momentum) * x.mean(axis=0)
    return x - x.mean(axis=0)


def draw(n):
    return np.random.randn(n)


def dropout_forward(x, dropout_param):
    """The student's own dropout: easy to tell from the injected one."""
    return 2 * x, (dropout_param, None)


def dropout_backward(dout, cache):
    return 3 * dout


def with_object(x):
    return x, object()


def objects():
    return np.array([object()], dtype=object)


def boom(x):
    raise ValueError("bad input " + str(x.shape))


def typo(x):
    return x.shapee


def leave():
    raise SystemExit(3)


def interrupt():
    raise KeyboardInterrupt


class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("cannot print me")


def unprintable():
    raise Unprintable()


def shout():
    raise RuntimeError("x" * 5000)

'''

OPTIM = """
def sgd(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    w -= config["learning_rate"] * dw
    return w, config
"""

FC_NET = '''
import numpy as np

from toyws.layers import affine_backward, affine_forward, dropout_backward, dropout_forward
from toyws.layers import softmax_loss


class TinyNet:
    def __init__(self, hidden_dims, input_dim=4, num_classes=3, weight_scale=1e-1,
                 dropout_keep_ratio=1.0, dtype=np.float32, seed=None):
        dims = [input_dim, *hidden_dims, num_classes]
        self.num_layers = len(dims) - 1
        self.params = {}
        for i in range(self.num_layers):
            w = weight_scale * np.random.randn(dims[i], dims[i + 1])
            self.params[f"W{i + 1}"] = w.astype(dtype)
            self.params[f"b{i + 1}"] = np.zeros(dims[i + 1], dtype=dtype)
        self.use_dropout = dropout_keep_ratio != 1
        self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
        if seed is not None:
            self.dropout_param["seed"] = seed

    def loss(self, X, y=None):
        last = self.num_layers
        self.dropout_param["mode"] = "test" if y is None else "train"
        h, caches = X, []
        for i in range(1, last):
            a, fc_cache = affine_forward(h, self.params[f"W{i}"], self.params[f"b{i}"])
            h, drop_cache = np.maximum(a, 0), None
            if self.use_dropout:
                h, drop_cache = dropout_forward(h, self.dropout_param)
            caches.append((fc_cache, a, drop_cache))
        scores, last_cache = affine_forward(h, self.params[f"W{last}"], self.params[f"b{last}"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dh, grads[f"W{last}"], grads[f"b{last}"] = affine_backward(dscores, last_cache)
        for i in range(last - 1, 0, -1):
            fc_cache, a, drop_cache = caches[i - 1]
            if drop_cache is not None:
                dh = dropout_backward(dh, drop_cache)
            dh, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dh * (a > 0), fc_cache)
        return loss, grads


def through_dropout(xs, dropout_param, douts):
    """Each x forward through dropout_forward, each dout back through dropout_backward."""
    outs, dxs = [], []
    for x, dout in zip(xs, douts):
        out, cache = dropout_forward(x, dropout_param)
        outs.append(out)
        dxs.append(dropout_backward(dout, cache))
    return outs, dxs


def foreign_backward(dout):
    """dropout_backward on a cache the injected forward did not make."""
    return dropout_backward(dout, ({"mode": "train"}, np.ones_like(dout)))
'''

SOURCES = {"layers": LAYERS, "optim": OPTIM, "fc_net": FC_NET}
MODULES = {name: f"toyws.{name}" for name in SOURCES}


def write_workspace(root: Path, extra: dict[str, str] | None = None) -> Path:
    ws = root / "ws"
    (ws / "toyws").mkdir(parents=True)
    (ws / "toyws" / "__init__.py").write_text("")
    for name, source in {**SOURCES, **(extra or {})}.items():
        (ws / "toyws" / f"{name}.py").write_text(textwrap.dedent(source))
    return ws


def open_session(root: Path, launcher: Any, *, compat: bool = False, **extra: str) -> Session:
    ws = write_workspace(root, extra)
    modules = {**MODULES, **{name: f"toyws.{name}" for name in extra}}
    config = SessionConfig(
        runtime=stage_runtime(root / "runtime"),
        workspace=ws,
        modules=modules,
        compat=compat,
        output_path=root / "out.txt",
    )
    return Session(config, launcher)


BROKEN = {
    "bad_raises": "raise ImportError('needs torch')\n",
    "bad_syntax": "def broken(:\n",
    "bad_imports": "import toyws.nonexistent\n",
}
"""Declared modules that fail to import (the fixture's imports leave them alone)."""


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    launcher = PlainLauncher()
    with open_session(tmp_path_factory.mktemp("harness"), launcher, **BROKEN) as session:
        yield session
    launcher.kill_all()


@pytest.fixture
def child(shared: Session) -> Session:
    """The module's child after the engine's per-check preamble: imports, then ``reset``."""
    for module in SOURCES:
        request(shared, "import", module=module)
    request(shared, "reset", seed=0)
    return shared


@pytest.fixture
def toyws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The toy package imported in this process, to replay in the grader what the child did."""
    monkeypatch.syspath_prepend(str(write_workspace(tmp_path)))
    yield importlib.import_module("toyws.fc_net"), importlib.import_module("toyws.optim")
    for name in [m for m in sys.modules if m == "toyws" or m.startswith("toyws.")]:
        del sys.modules[name]


@pytest.fixture
def global_rng() -> Iterator[None]:
    state = np.random.get_state()
    yield
    np.random.set_state(state)


def request(session: Session, op: str, **fields: Any) -> Any:
    """One request, encoded as ``Context.request`` encodes it."""
    enc = Encoder()
    encoded = {k: enc.encode(v) for k, v in fields.items()}
    return session.request(op, time.monotonic() + 30, enc.arrays, **encoded)


def target(attr: str, module: str = "layers") -> dict[str, str]:
    return {"module": module, "attr": attr}


def call(session: Session, fn: str | dict[str, Any], *args: Any, **fields: Any) -> Any:
    """A ``call`` as ``Context.call`` sends it: the reply's value (the reply with return_args)."""
    fields = {"keep": [], "return_args": False, "kwargs": {}, **fields}
    fn = target(fn) if isinstance(fn, str) else fn
    reply = request(session, "call", fn=fn, args=list(args), **fields)
    return reply if fields["return_args"] else reply["value"]


def construct(session: Session, *args: Any, **fields: Any) -> Handle:
    kwargs = fields.pop("kwargs", {})
    fn = target("TinyNet", "fc_net")
    return request(session, "construct", fn=fn, args=list(args), kwargs=kwargs, **fields)


# -- init, import, reset ------------------------------------------------------------------------


def test_init_reports_the_childs_python_and_numpy(child: Session) -> None:
    """Pins ``init``'s reply (the session sent one already: it may come again)."""
    config = child.config
    reply = request(
        child, "init", workspace=str(config.workspace), modules=dict(config.modules), compat=False
    )
    assert reply == {"python": platform.python_version(), "numpy": np.__version__}


@pytest.mark.parametrize("compat", [False, True])
def test_init_installs_the_compat_shim_only_when_asked(
    compat: bool, tmp_path: Path, plain_launcher: PlainLauncher
) -> None:
    """Pins ``init``'s ``compat``: old numpy aliases import only with the shim."""
    old = "import numpy as np\nSIZE = np.zeros(1, dtype=np.float).itemsize\n"
    with open_session(tmp_path, plain_launcher, compat=compat, old=old) as session:
        if compat:
            assert request(session, "import", module="old") is None
            assert request(session, "getattr", obj=target("SIZE", "old")) == 8
        else:
            with pytest.raises(StudentRaised) as info:
                request(session, "import", module="old")
            assert info.value.type == "AttributeError" and "float" in info.value.detail


def test_import_imports_a_declared_module(child: Session) -> None:
    """Pins ``import`` by logical name (``None`` back) and that its names are then reachable."""
    assert request(child, "import", module="optim") is None
    assert request(child, "getattr", obj=target("SCALE")) == 2.5


@pytest.mark.parametrize(
    ("module", "error"),
    [
        ("bad_raises", "ImportError: needs torch"),
        ("bad_syntax", "SyntaxError"),
        ("bad_imports", "ModuleNotFoundError: No module named 'toyws.nonexistent'"),
    ],
)
def test_a_failing_import_is_the_students_exception(
    child: Session, module: str, error: str
) -> None:
    """Pins that a module failing to import is reported as raised, and the child serves on."""
    starts = child.starts
    with pytest.raises(StudentRaised) as info:
        request(child, "import", module=module)
    assert type(info.value) is StudentRaised and str(info.value).startswith(error)
    assert request(child, "import", module="layers") is None
    assert child.starts == starts


def test_a_failed_import_leaves_no_half_imported_module(tmp_path: Path) -> None:
    """A package ``__init__`` that imports a module and then fails (a given file needing an
    absent package) fails every import the same way: the module it imported before failing
    is not left in ``sys.modules`` to make a later import succeed."""
    ws = tmp_path / "ws"
    (ws / "halfpkg").mkdir(parents=True)
    (ws / "halfpkg" / "__init__.py").write_text("from . import good\nimport absent_plotting_lib\n")
    (ws / "halfpkg" / "good.py").write_text("VALUE = 1\n")
    config = SessionConfig(
        runtime=stage_runtime(tmp_path / "runtime"),
        workspace=ws,
        modules={"good": "halfpkg.good"},
        compat=False,
        output_path=tmp_path / "out.txt",
    )
    launcher = PlainLauncher()
    with Session(config, launcher) as session:
        for _attempt in range(2):
            with pytest.raises(StudentRaised, match="No module named 'absent_plotting_lib'"):
                request(session, "import", module="good")
    launcher.kill_all()


def test_reset_seeds_the_global_legacy_random(child: Session) -> None:
    """Pins ``reset``'s seed (and 0 without one): the draws of ``np.random.seed(seed)``."""
    request(child, "reset", seed=7)
    np.testing.assert_array_equal(call(child, "draw", 4), np.random.RandomState(7).randn(4))
    request(child, "reset")
    np.testing.assert_array_equal(call(child, "draw", 4), np.random.RandomState(0).randn(4))


def test_reset_forgets_handles(child: Session) -> None:
    """Pins that a handle from before ``reset`` is unknown after it (a protocol error)."""
    _, cache = call(
        child, "affine_forward", np.ones((2, 3)), np.ones((3, 2)), np.zeros(2), keep=[1]
    )
    call(child, "affine_backward", np.ones((2, 2)), cache)
    request(child, "reset", seed=0)
    with pytest.raises(StudentUngradable) as info:
        call(child, "affine_backward", np.ones((2, 2)), cache)
    assert (
        info.value.type == "ProtocolError" and info.value.detail == f"unknown handle {cache.id!r}"
    )


# -- call ---------------------------------------------------------------------------------------


def test_call_returns_arrays_tuples_and_plain_values(child: Session) -> None:
    """Pins a plain ``call``: arrays, numbers and tuples come back as themselves."""
    x, w, b = np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(3, 2), np.array([0.5, -1.0])
    out, (cx, cw, cb) = call(child, "affine_forward", x, w, b)
    np.testing.assert_array_equal(out, x @ w + b)
    for got, want in ((cx, x), (cw, w), (cb, b)):
        np.testing.assert_array_equal(got, want)
    loss, note = call(child, "cube", np.array([1.0, 2.0]))
    assert (loss, note) == (9.0, "not differentiated")


def test_call_keeps_selected_results_in_the_child(child: Session) -> None:
    """Pins ``keep``: kept entries come back as handles and resolve when sent back."""
    x, w, b = np.arange(6.0).reshape(2, 3), np.ones((3, 2)), np.zeros(2)
    out, cache = call(child, "affine_forward", x, w, b, keep=[1])
    assert isinstance(cache, Handle)
    np.testing.assert_array_equal(out, x @ w)
    dout = np.arange(4.0).reshape(2, 2)
    dx, dw, db = call(child, "affine_backward", dout, cache)
    np.testing.assert_array_equal(dx, dout @ w.T)
    np.testing.assert_array_equal(dw, x.T @ dout)
    np.testing.assert_array_equal(db, dout.sum(axis=0))


def test_keep_of_a_single_value_keeps_all_of_it(child: Session) -> None:
    """Pins ``keep`` on a result that is not a tuple: the whole result stays (and resolves)."""
    kept = call(child, "draw", 3, keep=[0])
    assert isinstance(kept, Handle)
    drawn = np.random.RandomState(0).randn(3)  # reset seeded 0
    assert call(child, "cube", kept)[0] == pytest.approx(float(np.sum(drawn**3)), rel=1e-14)


def test_objects_that_cannot_cross_become_handles(child: Session) -> None:
    """Pins that a non-data value in a result comes back as a handle, not as an error."""
    x, thing = call(child, "with_object", np.ones(2))
    np.testing.assert_array_equal(x, np.ones(2))
    assert isinstance(thing, Handle) and thing.type_name == "object"


def test_call_with_return_args_sends_back_the_arguments_as_left(child: Session) -> None:
    """Pins ``return_args``: the arguments after the call (batchnorm writes into ``bn_param``)."""
    x = np.array([[1.0, 2.0], [3.0, 6.0]])
    reply = call(
        child, "normalize", x, {"mode": "train"}, kwargs={"momentum": 0.5}, return_args=True
    )
    assert set(reply) == {"value", "args", "kwargs"}
    np.testing.assert_array_equal(reply["value"], x - x.mean(axis=0))
    sent_x, bn_param = reply["args"]
    np.testing.assert_array_equal(sent_x, x)
    assert bn_param["mode"] == "train"
    np.testing.assert_array_equal(bn_param["running_mean"], [1.0, 2.0])
    assert reply["kwargs"] == {"momentum": 0.5}


def test_call_without_return_args_sends_only_the_value(child: Session) -> None:
    """Pins that the arguments do not travel back unless asked for."""
    reply = request(
        child, "call", fn=target("draw"), args=[2], kwargs={}, keep=[], return_args=False
    )
    assert set(reply) == {"value"}


def test_call_seeds_before_calling(child: Session) -> None:
    """Pins ``seed``: ``np.random.seed(seed)`` right before the function runs."""
    first = call(child, "draw", 5, seed=3)
    np.testing.assert_array_equal(first, np.random.RandomState(3).randn(5))
    np.testing.assert_array_equal(call(child, "draw", 5, seed=3), first)
    assert not np.array_equal(call(child, "draw", 5), first)  # no seed: the stream goes on


# -- construct, getattr, setitem ----------------------------------------------------------------


@pytest.mark.parametrize(("dtype", "seed"), [("float32", 231), ("float64", 0), ("float64", None)])
def test_construct_builds_a_seeded_instance_with_a_named_dtype(
    child: Session, dtype: str, seed: int | None
) -> None:
    """Pins ``construct``: a handle; ``dtype`` by name; weights drawn after ``seed(seed or 0)``."""
    fields = {} if seed is None else {"seed": seed}
    kwargs = {"input_dim": 4, "num_classes": 3, "weight_scale": 0.1, "dtype": dtype}
    net = construct(child, [5], kwargs=kwargs, **fields)
    assert isinstance(net, Handle)
    params = request(child, "getattr", obj={"handle": net.id, "attr": "params"})
    assert sorted(params) == ["W1", "W2", "b1", "b2"]
    assert {p.dtype for p in params.values()} == {np.dtype(dtype)}
    rng = np.random.RandomState(seed or 0)
    np.testing.assert_array_equal(params["W1"], (0.1 * rng.randn(4, 5)).astype(dtype))
    np.testing.assert_array_equal(params["W2"], (0.1 * rng.randn(5, 3)).astype(dtype))


def test_getattr_reads_a_handles_or_a_modules_attribute(child: Session) -> None:
    """Pins ``getattr`` on both target forms the host sends."""
    net = construct(child, [2], kwargs={"dropout_keep_ratio": 0.5, "seed": 123})
    dropout_param = request(child, "getattr", obj={"handle": net.id, "attr": "dropout_param"})
    assert dropout_param == {"mode": "train", "p": 0.5, "seed": 123}
    assert request(child, "getattr", obj=target("SCALE")) == 2.5


def test_setitem_writes_into_an_attribute_of_a_handle(child: Session) -> None:
    """Pins ``setitem`` (parameter injection, the dropout seed) as the host uses it."""
    net = construct(child, [2], kwargs={"dtype": "float64", "dropout_keep_ratio": 0.5})
    params = {"handle": net.id, "attr": "params"}
    w1 = np.arange(8.0).reshape(4, 2)
    assert request(child, "setitem", obj=params, key="W1", value=w1) is None
    np.testing.assert_array_equal(request(child, "getattr", obj=params)["W1"], w1)
    dropout = {"handle": net.id, "attr": "dropout_param"}
    request(child, "setitem", obj=dropout, key="seed", value=1000)
    assert request(child, "getattr", obj=dropout)["seed"] == 1000


def test_a_method_of_a_handle_is_called_with_its_state(child: Session) -> None:
    """Pins a ``call`` of ``{"handle", "attr"}``: the method sees injected parameters."""
    net = construct(child, [2], kwargs={"dtype": "float64"})
    params = {"handle": net.id, "attr": "params"}
    for name, value in {"W1": np.ones((4, 2)), "b1": np.zeros(2), "W2": np.eye(2, 3)}.items():
        request(child, "setitem", obj=params, key=name, value=value)
    scores = call(child, {"handle": net.id, "attr": "loss"}, np.ones((1, 4)))
    np.testing.assert_array_equal(scores, [[4.0, 4.0, 0.0]])


# -- numgrad ------------------------------------------------------------------------------------


def test_numgrad_of_an_argument_contracted_with_dout(child: Session) -> None:
    """Pins ``numgrad`` with ``wrt={"arg": i}``, ``output`` and ``dout`` (the layers' checks)."""
    rng = np.random.RandomState(1)
    x, w, b, dout = rng.randn(3, 2, 2), rng.randn(4, 5), rng.randn(5), rng.randn(3, 5)
    fn = target("affine_forward")
    grads = ((dout @ w.T).reshape(x.shape), x.reshape(3, 4).T @ dout, dout.sum(0))
    for i, analytic in enumerate(grads):
        numeric = request(
            child,
            "numgrad",
            fn=fn,
            args=[x, w, b],
            kwargs={},
            output=0,
            wrt={"arg": i},
            h=1e-5,
            dout=dout,
        )
        assert numeric.dtype == np.float64 and numeric.shape == analytic.shape
        np.testing.assert_allclose(numeric, analytic, rtol=1e-7, atol=1e-9)


def test_numgrad_of_a_scalar_output(child: Session) -> None:
    """Pins ``numgrad`` without ``dout``: the output itself is the scalar (the losses' checks)."""
    rng = np.random.RandomState(2)
    x, y = 1e-3 * rng.randn(5, 4), rng.randint(4, size=5)
    _, dx = call(child, "softmax_loss", x, y)
    numeric = request(
        child,
        "numgrad",
        fn=target("softmax_loss"),
        args=[x, y],
        kwargs={},
        output=0,
        wrt={"arg": 0},
        h=1e-5,
    )
    np.testing.assert_allclose(numeric, dx, rtol=1e-6, atol=1e-10)


def test_numgrad_uses_the_step_h(child: Session) -> None:
    """Pins ``h``: centred differences of sum(x^3) are 3x^2 + h^2 exactly in theory."""
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    numeric = request(
        child, "numgrad", fn=target("cube"), args=[x], kwargs={}, output=0, wrt={"arg": 0}, h=0.5
    )
    np.testing.assert_allclose(numeric, 3 * x**2 + 0.25, rtol=1e-12)


def test_numgrad_of_a_model_parameter(child: Session) -> None:
    """Pins ``wrt={"obj", "key"}``: a ``model.params`` entry, restored afterwards."""
    net = construct(child, [3], kwargs={"dtype": "float64", "weight_scale": 1.0})
    params = {"handle": net.id, "attr": "params"}
    before = request(child, "getattr", obj=params)
    rng = np.random.RandomState(3)
    X, y = rng.randn(4, 4), rng.randint(3, size=4)
    method = {"handle": net.id, "attr": "loss"}
    _, grads = call(child, method, X, y)
    for name in ("W1", "b2"):
        numeric = request(
            child,
            "numgrad",
            fn=method,
            args=[X, y],
            kwargs={},
            output=0,
            wrt={"obj": params, "key": name},
        )
        np.testing.assert_allclose(numeric, grads[name], rtol=1e-6, atol=1e-9)
    after = request(child, "getattr", obj=params)
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value)


# -- dropout ------------------------------------------------------------------------------------


def dropout_record(session: Session) -> Any:
    return request(session, "dropout_calls")


def test_dropout_patches_every_imported_student_module(child: Session) -> None:
    """Pins ``dropout``'s reply: forward and backward replaced in ``layers`` and ``fc_net``."""
    assert request(child, "dropout", masks=[np.ones((1, 2))]) == {"patched": 4}
    assert dropout_record(child) == {"calls": 0, "p": []}


def test_the_injected_dropout_applies_the_masks_in_order(child: Session) -> None:
    """Pins the injected forward/backward in train mode, and the record of calls and ``p``."""
    masks = [np.array([[2.0, 0.0, 2.0]]), np.array([[0.0, 4.0]])]
    request(child, "dropout", masks=masks)
    xs = [np.array([[1.0, 2.0, 3.0]], dtype=np.float32), np.array([[5.0, 6.0]])]
    douts = [np.array([[1.0, 1.0, 1.0]]), np.array([[1.0, 2.0]])]
    outs, dxs = call(
        child, target("through_dropout", "fc_net"), xs, {"mode": "train", "p": 0.5}, douts
    )
    assert outs[0].dtype == np.float32  # the student's dtype is kept
    np.testing.assert_array_equal(outs[0], [[2.0, 0.0, 6.0]])
    np.testing.assert_array_equal(outs[1], [[0.0, 24.0]])
    np.testing.assert_array_equal(dxs[0], [[2.0, 0.0, 2.0]])
    np.testing.assert_array_equal(dxs[1], [[0.0, 8.0]])
    assert dropout_record(child) == {"calls": 2, "p": [0.5, 0.5]}


def test_calls_beyond_the_masks_or_of_another_shape_keep_everything(child: Session) -> None:
    """Pins the all-ones mask for surplus calls and shape mismatches (still counted)."""
    request(child, "dropout", masks=[np.zeros((1, 2))])
    xs = [np.ones((1, 3)), np.ones((1, 2)), np.ones((1, 2))]
    outs, dxs = call(
        child, target("through_dropout", "fc_net"), xs, {"mode": "train", "p": "x"}, xs
    )
    for out, dx, x in zip(outs, dxs, xs, strict=True):
        np.testing.assert_array_equal(out, x)
        np.testing.assert_array_equal(dx, x)
    assert dropout_record(child) == {"calls": 3, "p": [None, None, None]}  # p not a number


def test_test_mode_passes_through_and_is_not_counted(child: Session) -> None:
    """Pins the injected forward outside train mode: identity, and not a counted call."""
    request(child, "dropout", masks=[np.zeros((1, 2))])
    x = np.array([[1.0, 2.0]])
    outs, dxs = call(
        child, target("through_dropout", "fc_net"), [x], {"mode": "test", "p": 0.5}, [x]
    )
    np.testing.assert_array_equal(outs[0], x)
    np.testing.assert_array_equal(dxs[0], x)
    assert dropout_record(child) == {"calls": 0, "p": []}


def test_the_students_backward_handles_caches_it_made(child: Session) -> None:
    """Pins that the replaced backward hands foreign caches to the student's own backward."""
    request(child, "dropout", masks=[np.zeros((1, 2))])
    np.testing.assert_array_equal(
        call(child, target("foreign_backward", "fc_net"), np.ones(2)), [3.0, 3.0]
    )


def test_the_injected_dropout_reaches_the_net_and_direct_calls(child: Session) -> None:
    """Pins the patch in both modules: a net's loss and a direct ``layers.dropout_forward`` call."""
    net = construct(child, [2, 2], kwargs={"dtype": "float64", "dropout_keep_ratio": 0.5})
    params = {"handle": net.id, "attr": "params"}
    for name, value in {
        "W1": np.eye(4, 2),
        "b1": np.zeros(2),
        "W2": np.eye(2),
        "b2": np.ones(2),
    }.items():
        request(child, "setitem", obj=params, key=name, value=value)
    request(child, "dropout", masks=[np.array([[2.0, 0.0]]), np.array([[0.0, 2.0]])])
    _, grads = call(
        child, {"handle": net.id, "attr": "loss"}, np.ones((1, 4)), np.zeros(1, dtype=int)
    )
    assert dropout_record(child) == {"calls": 2, "p": [0.5, 0.5]}
    # The masks keep unit 0 of layer 1 and unit 1 of layer 2 (the student's own dropout keeps
    # all): dW2 = outer(h1, da2) has only its (0, 1) entry, dW3 = outer(h2, dscores) only row 1.
    assert np.count_nonzero(grads["W2"]) == 1 and grads["W2"][0, 1] != 0
    assert not grads["W3"][0].any() and grads["W3"][1].all()
    out, cache = call(
        child, "dropout_forward", np.ones((1, 2)), {"mode": "train", "p": 0.5}, keep=[1]
    )
    np.testing.assert_array_equal(out, [[1.0, 1.0]])  # beyond the masks: everything kept
    np.testing.assert_array_equal(
        call(child, "dropout_backward", np.ones((1, 2)), cache), [[1.0, 1.0]]
    )
    assert dropout_record(child)["calls"] == 3


def test_a_new_patch_and_reset_clear_the_record_and_reset_restores(child: Session) -> None:
    """Pins that ``dropout`` restarts the count and that ``reset`` undoes the patch."""
    request(child, "dropout", masks=[np.zeros((1, 1))])
    call(
        child,
        target("through_dropout", "fc_net"),
        [np.ones((1, 1))],
        {"mode": "train", "p": 1},
        [np.ones((1, 1))],
    )
    assert dropout_record(child) == {"calls": 1, "p": [1.0]}
    request(child, "dropout", masks=[])
    assert dropout_record(child) == {"calls": 0, "p": []}
    request(child, "reset", seed=0)
    assert dropout_record(child) == {"calls": 0, "p": []}
    x = np.ones((1, 2))
    outs, dxs = call(
        child, target("through_dropout", "fc_net"), [x], {"mode": "train", "p": 0.5}, [x]
    )
    np.testing.assert_array_equal(outs[0], 2 * x)  # the student's own dropout again
    np.testing.assert_array_equal(dxs[0], 3 * x)
    out, _ = call(child, "dropout_forward", x, {"mode": "train"})
    np.testing.assert_array_equal(out, 2 * x)


# -- errors: how each failure is reported -------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "fields", "detail"),
    [
        ("call", {"fn": target("affine_fwd")}, "layers has no attribute 'affine_fwd'"),
        ("getattr", {"obj": target("adam", "optim")}, "optim has no attribute 'adam'"),
        ("call", {"fn": target("FCNet", "fc_net")}, "fc_net has no attribute 'FCNet'"),
        ("construct", {"fn": target("FCNet", "fc_net")}, "fc_net has no attribute 'FCNet'"),
        ("numgrad", {"fn": target("nope"), "wrt": {"arg": 0}}, "layers has no attribute 'nope'"),
        ("train_step", {"model": target("Net", "fc_net")}, "fc_net has no attribute 'Net'"),
    ],
)
def test_a_missing_name_is_reported_as_missing(
    child: Session, op: str, fields: dict[str, Any], detail: str
) -> None:
    """Pins ``kind: "missing"`` (``StudentMissing``) for a name the student's module lacks."""
    with pytest.raises(StudentMissing) as info:
        request(child, op, args=[], kwargs={}, **fields)
    assert (info.value.type, info.value.detail) == ("StudentError", detail)


def test_a_missing_attribute_of_a_handle_names_its_class(child: Session) -> None:
    """Pins the missing message for a handle target (the host reads ``params`` and ``loss``)."""
    net = construct(child, [2])
    for op, fields in (
        ("getattr", {"obj": {"handle": net.id, "attr": "weights"}}),
        ("setitem", {"obj": {"handle": net.id, "attr": "weights"}, "key": "W1", "value": 1.0}),
        ("call", {"fn": {"handle": net.id, "attr": "weights"}, "args": [], "kwargs": {}}),
    ):
        with pytest.raises(StudentMissing) as info:
            request(child, op, **fields)
        assert info.value.detail == "TinyNet has no attribute 'weights'"


def test_an_attribute_error_inside_the_students_code_is_raised_not_missing(child: Session) -> None:
    """Pins that only the host's own lookup counts as missing."""
    with pytest.raises(StudentRaised) as info:
        call(child, "typo", np.ones(2))
    assert type(info.value) is StudentRaised and info.value.type == "AttributeError"
    assert "shapee" in info.value.detail


def test_a_value_that_cannot_be_sent_is_ungradable(child: Session) -> None:
    """Pins ``kind: "ungradable"`` (``StudentUngradable``) for an object array, child kept."""
    starts = child.starts
    with pytest.raises(StudentUngradable) as info:
        call(child, "objects")
    assert info.value.type == "ProtocolError"
    assert info.value.detail == "array of dtype object cannot be sent (numeric only)"
    assert call(child, "draw", 1).shape == (1,)
    assert child.starts == starts


@pytest.mark.parametrize(
    ("fn", "args", "error", "message"),
    [
        ("boom", [np.zeros((2, 3))], "ValueError", "bad input (2, 3)"),
        ("leave", [], "SystemExit", "3"),
        ("interrupt", [], "KeyboardInterrupt", ""),
        ("softmax_loss", [np.zeros((2, 3)), np.array([0, 7])], "IndexError", None),
    ],
)
def test_the_students_exception_is_raised_with_type_message_and_traceback(
    child: Session, fn: str, args: list[Any], error: str, message: str | None
) -> None:
    """Pins ``kind: "raised"`` (``StudentRaised``), even for SystemExit; the child serves on."""
    starts = child.starts
    with pytest.raises(StudentRaised) as info:
        call(child, fn, *args)
    assert type(info.value) is StudentRaised and info.value.type == error
    if message is not None:
        assert info.value.detail == message
    assert 'layers.py", line' in info.value.traceback
    assert call(child, "draw", 1).shape == (1,)
    assert child.starts == starts


def test_an_exception_that_cannot_print_is_still_reported(child: Session) -> None:
    """Pins the fallback when the student's exception breaks ``str()``."""
    with pytest.raises(StudentRaised) as info:
        call(child, "unprintable")
    assert info.value.type == "Unprintable"
    assert (info.value.detail, info.value.traceback) == ("<exception could not be printed>", "")


def test_long_messages_and_tracebacks_are_truncated(child: Session) -> None:
    """Pins the first 1000 characters of the message and the last 4000 of the traceback."""
    with pytest.raises(StudentRaised) as info:
        call(child, "shout")  # RuntimeError("x" * 5000)
    assert info.value.detail == "x" * 1000
    assert info.value.traceback == "...\n" + "x" * 3999 + "\n"


@pytest.mark.parametrize(
    ("op", "fields", "detail"),
    [
        ("setattr", {"obj": target("SCALE"), "attr": "real", "value": 1}, "unknown op 'setattr'"),
        ("", {}, "unknown op ''"),
        ("import", {"module": "solver"}, "unknown module 'solver'"),
        (
            "call",
            {"fn": {"given": "solver", "attr": "Solver"}},
            "a target names exactly one of a module or a handle",
        ),
        (
            "call",
            {"fn": {"module": "layers", "handle": "h1", "attr": "draw"}},
            "a target names exactly one of a module or a handle",
        ),
        ("call", {"fn": {"handle": "h999", "attr": "loss"}}, "unknown handle 'h999'"),
    ],
)
def test_requests_the_host_never_sends_are_protocol_errors(
    child: Session, op: str, fields: dict[str, Any], detail: str
) -> None:
    """Pins that unknown ops (``setattr`` is gone), unknown names and malformed targets are the
    host's errors (``ungradable``), never blamed on the student's code as ``raised``."""
    with pytest.raises(StudentUngradable) as info:
        request(child, op, args=[], kwargs={}, **fields)
    assert (info.value.type, info.value.detail) == ("ProtocolError", detail)
