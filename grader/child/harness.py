"""The request loop that runs inside the student's sandboxed process.

The grading process sends requests (``op`` plus arguments) on one pipe; this loop performs each
one with the student's code and answers on another pipe with raw arrays and plain JSON only
(``protocol``). It never sees expected values, tolerances or the reference's solution modules:
it only calls the student's functions and reports what they returned. All judging happens in the
grading process.

Ops:
    init      remember the workspace and the logical-name -> dotted-module map; optional compat shim
    reset     forget handles, undo the dropout patch, seed the global legacy ``np.random``
    import    import one student module by logical name
    call      call a function or method; selected results stay here as handles (e.g. caches)
    construct instantiate a student class (seeded) and keep the instance as a handle
    getattr   read an attribute of a module or handle
    setitem   ``obj.attr[key] = value`` (inject parameters into a model)
    numgrad   centred-difference gradient of a student function (float64)
    dropout   make the student's dropout functions, however reached, apply the host's masks
    dropout_calls  how often the replaced dropout ran in train mode, and the p it was given (a
              claim: the host uses it only to pick which report a net gets, never for points)
    reached   the names of the student's functions that ran since ``reset`` (a claim: the host
              uses it only to pick which root cause a report names, never for points)
    load_course_model  the params dict of a course ``.npy`` model file (pickled: opened only here)
    train_step  one training iteration at the host's parameters: the student's loss on the host's
              minibatch and, when asked, the student's update rule on every parameter
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

# numpy must be imported before the student's workspace is on sys.path, so that a
# ``numpy.py`` in the submission cannot shadow it.
import numpy as np
from nngrader_child import channel, injection, protocol, reached

MAX_TRACEBACK_CHARS = 4000


class Kept:
    """A result deliberately left in the child; it crosses as a handle reference only."""

    def __init__(self, hid: str) -> None:
        self.hid = hid


class StudentError(Exception):
    """A name the host asked for is not defined by the student's module (error kind ``missing``)."""


class Harness:
    """State of one child process: imported modules, handles, dropout patch counters."""

    def __init__(self) -> None:
        self.modules: dict[str, str] = {}
        self.workspace = ""
        self.handles: dict[str, Any] = {}
        self._next_handle = 0
        self.dropout = injection.DropoutPatch()
        self.reached = reached.Reached()

    # -- plumbing -------------------------------------------------------------------------------

    def keep(self, obj: Any) -> str:
        """Store ``obj`` and return its handle id."""
        self._next_handle += 1
        hid = f"h{self._next_handle}"
        self.handles[hid] = obj
        return hid

    def resolve_handle(self, hid: str, _type: str) -> Any:
        try:
            return self.handles[hid]
        except KeyError:
            raise protocol.ProtocolError(f"unknown handle {hid!r}") from None

    def target(self, spec: dict[str, Any]) -> Any:
        """Resolve ``{"module": name, "attr": "a.b"}`` or ``{"handle": id, "attr": ...}``."""
        if not isinstance(spec, dict) or ("handle" in spec) == ("module" in spec):
            # A host bug, not the student's: never let it surface as the student's KeyError.
            raise protocol.ProtocolError("a target names exactly one of a module or a handle")
        if "handle" in spec:
            obj = self.resolve_handle(spec["handle"], "")
        else:
            obj = self.module(spec["module"])
        for part in filter(None, spec.get("attr", "").split(".")):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                where = spec.get("module") or type(obj).__name__
                raise StudentError(f"{where} has no attribute {part!r}") from None
        return obj

    def module(self, logical: str) -> Any:
        if logical not in self.modules:
            raise protocol.ProtocolError(f"unknown module {logical!r}")
        return import_whole(self.modules[logical], self.workspace)

    # -- ops ------------------------------------------------------------------------------------

    def op_init(self, req: dict[str, Any]) -> Any:
        self.workspace = req["workspace"]
        self.modules = dict(req["modules"])
        if req.get("compat"):
            from nngrader_child import compat

            compat.install()
        sys.path.append(self.workspace)
        self.reached.install(self.workspace)
        return {"python": sys.version.split()[0], "numpy": np.__version__}

    def op_reset(self, req: dict[str, Any]) -> Any:
        self.handles.clear()
        self.dropout.undo()  # undo op_dropout
        np.random.seed(req.get("seed", 0))
        self.reached.clear()
        return None

    def op_import(self, req: dict[str, Any]) -> Any:
        self.module(req["module"])
        return None

    def op_call(self, req: dict[str, Any]) -> Any:
        fn = self.target(req["fn"])
        args, kwargs = req.get("args", []), req.get("kwargs", {})
        if "seed" in req:
            np.random.seed(req["seed"])
        result = fn(*args, **kwargs)
        keep = set(req.get("keep", ()))
        if keep and isinstance(result, tuple):
            result = tuple(Kept(self.keep(v)) if i in keep else v for i, v in enumerate(result))
        elif keep:
            result = Kept(self.keep(result))
        reply: dict[str, Any] = {"value": result}
        if req.get("return_args"):
            reply["args"] = args
            reply["kwargs"] = kwargs
        return reply

    def op_construct(self, req: dict[str, Any]) -> Any:
        """Instantiate a student class (``dtype`` arrives as a name) and keep it as a handle."""
        cls = self.target(req["fn"])
        args, kwargs = req.get("args", []), req.get("kwargs", {})
        if isinstance(kwargs.get("dtype"), str):
            kwargs["dtype"] = np.dtype(kwargs["dtype"]).type
        np.random.seed(req.get("seed", 0))
        return Kept(self.keep(cls(*args, **kwargs)))

    def op_getattr(self, req: dict[str, Any]) -> Any:
        return self.target(req["obj"])

    def op_setitem(self, req: dict[str, Any]) -> Any:
        container = self.target(req["obj"])
        container[req["key"]] = req["value"]
        return None

    def op_numgrad(self, req: dict[str, Any]) -> Any:
        """Centred differences of output ``output`` of a student function (contracted with dout).

        ``wrt`` is ``{"arg": i}`` (an argument array) or ``{"obj": target, "key": k}`` (an entry
        of a dict such as ``model.params``). Returns the gradient, shaped like the variable.
        """
        fn = self.target(req["fn"])
        args, kwargs = req.get("args", []), req.get("kwargs", {})
        dout = req.get("dout")
        index = req.get("output")
        wrt = req["wrt"]
        var = args[wrt["arg"]] if "arg" in wrt else self.target(wrt["obj"])[wrt["key"]]
        h = float(req.get("h", 1e-5))

        def f() -> float:
            if "seed" in req:
                np.random.seed(req["seed"])
            out = fn(*args, **kwargs)
            out = out[index] if index is not None else out
            out = np.asarray(out, dtype=np.float64)
            return float(np.sum(out * dout)) if dout is not None else float(out)

        grad = np.zeros(var.shape, dtype=np.float64)
        for ix in np.ndindex(*var.shape):
            old = var[ix]
            var[ix] = old + h
            plus = f()
            var[ix] = old - h
            minus = f()
            var[ix] = old
            grad[ix] = (plus - minus) / (2 * h)
        return grad

    def op_dropout(self, req: dict[str, Any]) -> Any:
        """Make the student's dropout, however the net reaches it, apply the host's masks.

        See ``injection.DropoutPatch.apply`` for the fields; ``reset`` undoes the patch.
        """
        return self.dropout.apply(req, self.workspace, list(self.modules.values()))

    def op_dropout_calls(self, _req: dict[str, Any]) -> Any:
        """How often the patched dropout ran in train mode since the patch; the p of each call."""
        return self.dropout.record()

    def op_reached(self, _req: dict[str, Any]) -> Any:
        """The names of the student's functions that ran since ``reset`` (None: not known)."""
        return self.reached.record()

    def op_load_course_model(self, req: dict[str, Any]) -> Any:
        """The arrays of a course-format model file in the workspace (unpickled here only)."""
        from nngrader_child import course_model

        return course_model.load(os.path.join(self.workspace, req["path"]))

    def op_train_step(self, req: dict[str, Any]) -> Any:
        """One training iteration of a student model at the host's parameters.

        ``params`` is one float64 vector holding every parameter, in the order and shapes of
        ``shapes`` (``[[name, shape], ...]``); it is set on the model, then ``loss`` runs on the
        training rows ``batch`` (indices chosen by the host). The training split arrives once, as
        ``X_train``/``y_train`` on the first step, and stays here with the rule's state and the
        parameters: ``run``, a handle returned then and sent back after. Without ``params`` the
        step starts from the next_w this op returned last (the host, holding exactly those, sends
        them only when it has others). With ``update_rule`` (a target) the rule is applied to
        every parameter, in that order, with the gradient just computed, and the Solver's
        bookkeeping follows: each returned config replaces the parameter's config (the first
        step sends ``configs``), and ``decay`` (at an epoch end) multiplies every config's
        learning rate. Gradients and next_w return as one float64 vector each when they fit
        ``shapes``; otherwise as the student returned them, and the host names the problem.
        Nothing is judged here.
        """
        model = self.target(req["model"])
        shapes = [(str(name), tuple(int(d) for d in shape)) for name, shape in req["shapes"]]
        reply: dict[str, Any] = {}
        run = req.get("run")
        if run is None:
            run = {"X": req["X_train"], "y": req["y_train"], "configs": req.get("configs")}
            reply["run"] = Kept(self.keep(run))
        if "params" in req:
            run["params"] = _unpack(req["params"], shapes)
        sent = run.get("params")
        if sent is None:
            raise protocol.ProtocolError("a training step without parameters")
        for name, w in sent.items():
            # A copy: the rule gets the host's w even if the student's loss writes into params.
            model.params[name] = w.copy()
        batch = np.asarray(req["batch"], dtype=np.int64)
        result = model.loss(run["X"][batch], run["y"][batch])
        run["params"] = None  # until the rule has given next_w
        grads: Any = result[1] if isinstance(result, (tuple, list)) and len(result) == 2 else None
        packed = _pack(grads, shapes)
        reply["result"] = result if packed is None else (result[0], packed)
        if "update_rule" not in req or packed is None:
            return reply
        rule = self.target(req["update_rule"])
        configs = run["configs"]
        updates = {name: rule(w, grads[name], configs[name]) for name, w in sent.items()}
        if not all(isinstance(u, (tuple, list)) and len(u) == 2 for u in updates.values()):
            reply["updates"] = updates
            return reply
        for name, (_, config) in updates.items():
            configs[name] = config
        if "decay" in req:
            for config in configs.values():
                config["learning_rate"] *= req["decay"]
        next_w = {name: u[0] for name, u in updates.items()}
        packed = _pack(next_w, shapes)
        if packed is not None:
            run["params"] = _unpack(packed, shapes)
        reply["updates"] = next_w if packed is None else packed
        return reply


def _unpack(flat: Any, shapes: list[tuple[str, tuple[int, ...]]]) -> dict[str, Any]:
    """One float64 vector as arrays of ``shapes`` (name -> array, each its own copy)."""
    flat = np.asarray(flat, dtype=np.float64)
    sizes = [int(np.prod(shape)) for _, shape in shapes]
    if flat.ndim != 1 or flat.size != sum(sizes):
        raise protocol.ProtocolError("params do not fit their shapes")
    pieces = np.split(flat, np.cumsum(sizes)[:-1]) if sizes else []
    return {
        name: piece.reshape(shape).copy()
        for (name, shape), piece in zip(shapes, pieces, strict=True)
    }


def _pack(arrays: Any, shapes: list[tuple[str, tuple[int, ...]]]) -> Any:
    """``arrays`` (name -> array) as one float64 vector in the order of ``shapes``, or None when
    they do not fit (other names, shapes or dtypes)."""
    if not isinstance(arrays, dict) or set(arrays) != {name for name, _ in shapes}:
        return None
    parts = []
    for name, shape in shapes:
        value = arrays[name]
        if not isinstance(value, np.ndarray) or value.shape != shape:
            return None
        if value.dtype.kind not in "iuf":
            return None
        parts.append(value.astype(np.float64).ravel())
    return np.concatenate(parts) if parts else np.zeros(0)


def _describe(exc: BaseException) -> dict[str, str]:
    """Summarise a student exception: type, message, and the traceback (truncated)."""
    try:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        message = str(exc)
    except Exception:  # a student's exception may not even print
        text, message = "", "<exception could not be printed>"
    if len(text) > MAX_TRACEBACK_CHARS:
        text = "...\n" + text[-MAX_TRACEBACK_CHARS:]
    # The host words a missing name differently from an exception of the student's code.
    kind = "missing" if type(exc) is StudentError else "raised"
    return {"kind": kind, "type": type(exc).__name__, "message": message[:1000], "traceback": text}


def serve(fd_in: int, fd_out: int) -> None:
    """Answer requests until the host closes the request pipe."""
    harness = Harness()
    ops: dict[str, Callable[[dict[str, Any]], Any]] = {
        name[3:]: getattr(harness, name) for name in dir(harness) if name.startswith("op_")
    }
    while True:
        try:
            header, arrays = protocol.read_frame(fd_in)
        except protocol.ChannelClosed:
            return
        reply: dict[str, Any] = {"id": header.get("id")}
        encoder = protocol.Encoder(
            keep=lambda obj: obj.hid if isinstance(obj, Kept) else harness.keep(obj)
        )
        req: dict[str, Any] = {"id": header.get("id")}
        try:
            req = {k: protocol.decode(v, arrays, harness.resolve_handle) for k, v in header.items()}
            op = ops.get(str(req.get("op")))
            if op is None:
                raise protocol.ProtocolError(f"unknown op {req.get('op')!r}")
            reply["ok"] = True
            reply["value"] = encoder.encode(op(req))
        except protocol.ProtocolError as exc:
            error = {
                "kind": "ungradable",
                "type": "ProtocolError",
                "message": str(exc),
                "traceback": "",
            }
            reply = {"id": req.get("id"), "ok": False, "error": error}
            encoder.arrays.clear()
        except BaseException as exc:  # student code may raise anything, even SystemExit
            reply = {"id": req.get("id"), "ok": False, "error": _describe(exc)}
            encoder.arrays.clear()
        _flush()  # what the student printed belongs to this request's output
        protocol.write_frame(fd_out, reply, encoder.arrays)


def _flush() -> None:
    for stream in (sys.__stdout__, sys.__stderr__, sys.stdout, sys.stderr):
        # A student may have replaced or closed the streams.
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.flush()


def main() -> None:
    # What the student's code prints goes to our stdout/stderr, which the sandbox captures; the
    # protocol's ends are private to this process (``channel``).
    serve(*channel.open_ends(sys.argv[1:]))


def import_whole(name: str, workspace: str) -> Any:
    """Import ``name``, or leave the workspace's modules in ``sys.modules`` as they were.

    Python removes only the module whose code raised; submodules that a failing package
    ``__init__`` imported before the failure stay in ``sys.modules``, so a later
    ``import pkg.layers`` would find them there without re-running the parent and succeed. The
    verdict of every check must not depend on which one imported first: every attempt either
    succeeds or fails the same way. Modules from outside the workspace (numpy's lazily loaded
    parts) are left alone: they are not half-imported student code.
    """
    before = set(sys.modules)
    try:
        return importlib.import_module(name)
    except BaseException:
        root = os.path.join(os.path.realpath(workspace), "")
        for partial in set(sys.modules) - before:
            where = getattr(sys.modules[partial], "__file__", None) or ""
            if partial not in before and os.path.realpath(where).startswith(root):
                del sys.modules[partial]
        raise
