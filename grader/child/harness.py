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
    dropout   replace the dropout layer the student's net calls with one applying given masks
    dropout_calls  how often the replaced dropout ran in train mode, and the p it was given
    train     train a student model with the grader's trusted Solver and the student's update rule
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
from nngrader_child import protocol

MAX_TRACEBACK_CHARS = 4000


class Kept:
    """A result deliberately left in the child; it crosses as a handle reference only."""

    def __init__(self, hid: str) -> None:
        self.hid = hid


class _InjectedCache(tuple[Any, ...]):  # a marker type, nothing more
    """Cache ``(dropout_param, mask)`` made by the injected dropout forward."""


class StudentError(Exception):
    """A name the host asked for is not defined by the student's module (error kind ``missing``)."""


class Harness:
    """State of one child process: imported modules, handles, dropout patch counters."""

    def __init__(self) -> None:
        self.modules: dict[str, str] = {}
        self.workspace = ""
        self.handles: dict[str, Any] = {}
        self.dropout_calls = 0
        self.dropout_ps: list[float | None] = []
        self._next_handle = 0
        self._patched: list[tuple[Any, str, Any]] = []

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
        return importlib.import_module(self.modules[logical])

    # -- ops ------------------------------------------------------------------------------------

    def op_init(self, req: dict[str, Any]) -> Any:
        self.workspace = req["workspace"]
        self.modules = dict(req["modules"])
        if req.get("compat"):
            from nngrader_child import compat

            compat.install()
        sys.path.append(self.workspace)
        return {"python": sys.version.split()[0], "numpy": np.__version__}

    def op_reset(self, req: dict[str, Any]) -> Any:
        self.handles.clear()
        self.dropout_calls = 0
        self.dropout_ps = []
        for module, name, original in reversed(self._patched):  # undo op_dropout
            setattr(module, name, original)
        self._patched.clear()
        np.random.seed(req.get("seed", 0))
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
        """Make every student module call a dropout that applies the host's masks in order.

        The masks stand for one fixed draw of the canonical convention; the student's own mask
        convention is free, so the net is judged with the same masks as the reference.
        """
        masks = req["masks"]
        harness = self

        def dropout_forward(x: Any, dropout_param: dict[str, Any]) -> Any:
            if dropout_param.get("mode") != "train":
                return x, _InjectedCache((dropout_param, None))
            # Calls beyond the hidden layers (dropout after the last affine) keep everything; the
            # host counts the calls and names the mistake.
            index = harness.dropout_calls
            mask = (
                masks[index]
                if index < len(masks) and masks[index].shape == x.shape
                else np.ones_like(x)
            )
            harness.dropout_calls += 1
            # The host checks that the net passes the course's p (keep or drop probability).
            p = dropout_param.get("p")
            harness.dropout_ps.append(
                float(p) if isinstance(p, (int, float, np.floating)) else None
            )
            return (x * mask).astype(x.dtype, copy=False), _InjectedCache((dropout_param, mask))

        def backward_for(original: Any) -> Any:
            def dropout_backward(dout: Any, cache: Any) -> Any:
                # Only caches of the injected forward are ours; a net that calls its own forward
                # but this module's backward keeps the student's backward.
                if not isinstance(cache, _InjectedCache):
                    return original(dout, cache)
                mask = cache[1]
                return dout if mask is None else dout * mask

            return dropout_backward

        patched = 0
        for dotted in self.modules.values():
            mod = sys.modules.get(dotted)
            if mod is None:
                continue
            originals = {
                name: getattr(mod, name, None) for name in ("dropout_forward", "dropout_backward")
            }
            replacements = {
                "dropout_forward": dropout_forward,
                "dropout_backward": backward_for(originals["dropout_backward"]),
            }
            for name, original in originals.items():
                if callable(original):
                    self._patched.append((mod, name, original))
                    setattr(mod, name, replacements[name])
                    patched += 1
        self.dropout_calls = 0
        self.dropout_ps = []
        return {"patched": patched}

    def op_dropout_calls(self, _req: dict[str, Any]) -> Any:
        """How often the patched dropout ran in train mode since the patch; the p of each call."""
        return {"calls": self.dropout_calls, "p": list(self.dropout_ps)}

    def op_train(self, req: dict[str, Any]) -> Any:
        """Train a student model with the trusted Solver; report losses and trained params."""
        from nngrader_given.solver import Solver

        model = self.target(req["model"])
        data = req["data"]
        update_rule = self.target(req["update_rule"])
        options = req.get("options", {})
        np.random.seed(req.get("seed", 0))
        solver = Solver(model, data, update_rule=update_rule, verbose=False, **options)
        solver.train()
        return {
            "loss_history": np.asarray(solver.loss_history, dtype=np.float64),
            "params": {k: np.asarray(v) for k, v in model.params.items()},
        }


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
    fd_in, fd_out = int(sys.argv[1]), int(sys.argv[2])
    # What the student's code prints goes to our stdout/stderr, which the sandbox captures.
    os.set_inheritable(fd_in, False)
    os.set_inheritable(fd_out, False)
    serve(fd_in, fd_out)
