"""Dropout injection inside the student's process (the harness's ``dropout`` op).

The grading process judges a dropout net with masks it knows: it sends them, and this module makes
the student's dropout layer apply them, however the net reaches that layer. Nothing here is
trusted by the grading process: the masks only make the loss predictable, and the grading process
compares that loss (and the gradients) with the reference's computed with the same masks.

Reaching the layer: in every loaded module of the student's workspace, every global bound to the
student's ``dropout_forward`` / ``dropout_backward`` (or named so) is rebound to the injected
layer, and the code of each such plain function is swapped for a trampoline to it, so aliases
(``from ..layers import dropout_forward as f``), attributes and stored references reach it too.
``undo`` restores both.
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any

import numpy as np

__all__ = ["DropoutPatch", "InjectedCache"]


class InjectedCache(tuple[Any, ...]):  # a marker type, nothing more
    """Cache ``(dropout_param, mask)`` made by the injected dropout forward."""


class DropoutPatch:
    """The injected dropout of one child: what is patched, and the record of its calls.

    The record (how often train mode ran, and the ``p`` of each call) is a claim of the child;
    the grading process reads it only to pick which report a net gets, never for points.
    """

    def __init__(self) -> None:
        self.calls = 0
        self.ps: list[float | None] = []
        self._patched: list[tuple[Any, str, Any]] = []
        # Functions whose code was swapped: (function, code, defaults, kwdefaults).
        self._swapped: list[tuple[Any, Any, Any, Any]] = []

    def record(self) -> dict[str, Any]:
        """How often the injected dropout ran in train mode since the patch; the p of each call."""
        return {"calls": self.calls, "p": list(self.ps)}

    def apply(self, req: dict[str, Any], workspace: str, declared: list[str]) -> dict[str, Any]:
        """Make the student's dropout apply the masks of ``req``; ``{"patched": names rebound}``.

        ``masks`` (arrays, applied in call order), or ``uniforms`` with ``meaning`` (``"keep"``
        or ``"drop"``): train-mode call i applies ``(uniforms[i] < keep) / keep``, ``keep`` read
        from the ``p`` the net passes under the course's meaning, so that ``p`` shows in the loss
        the grading process predicts. ``surplus`` (``"ones"``, the default, or ``"zeros"``) is
        the mask of calls beyond the list or of another shape: with ``"zeros"`` a surplus call
        (dropout on the scores, say) shows in the loss too.
        """
        self.undo()
        forward = self._forward(req)
        modules = _student_modules(workspace, declared)
        forwards = _found(modules, str(req.get("forward") or "dropout_forward"))
        backwards = _found(modules, str(req.get("backward") or "dropout_backward"))
        # Copies keep the student's backward callable for foreign caches once its code is swapped.
        injected = {id(b): _backward_for(_clone(b)) for b in backwards}
        patched = 0
        for module in modules:
            for name, value in list(vars(module).items()):
                if any(value is f for f in forwards):
                    replacement = forward
                elif any(value is b for b in backwards):
                    replacement = injected[id(value)]
                else:
                    continue
                self._patched.append((module, name, value))
                setattr(module, name, replacement)
                patched += 1
        for fn in forwards:
            self._swap(fn, forward)
        for fn in backwards:
            if not any(fn is f for f in forwards):
                self._swap(fn, injected[id(fn)])
        return {"patched": patched}

    def undo(self) -> None:
        """Restore the swapped code and the rebound names; clear the record."""
        for fn, code, defaults, kwdefaults in reversed(self._swapped):
            fn.__code__, fn.__defaults__, fn.__kwdefaults__ = code, defaults, kwdefaults
        self._swapped.clear()
        for module, name, original in reversed(self._patched):
            setattr(module, name, original)
        self._patched.clear()
        self.calls = 0
        self.ps = []

    def _forward(self, req: dict[str, Any]) -> Any:
        masks = list(req.get("masks") or [])
        uniforms = req.get("uniforms")
        meaning = str(req.get("meaning", "keep"))
        zeros = req.get("surplus", "ones") == "zeros"
        patch = self

        def mask_for(index: int, x: Any, p: Any) -> Any:
            if uniforms is not None:
                if index < len(uniforms) and uniforms[index].shape == x.shape:
                    keep = _keep_of(p, meaning)
                    # A p that is no probability drops everything: the loss shows it.
                    return np.zeros_like(x) if keep is None else (uniforms[index] < keep) / keep
            elif index < len(masks) and masks[index].shape == x.shape:
                return masks[index]
            return np.zeros_like(x) if zeros else np.ones_like(x)

        def dropout_forward(x: Any, dropout_param: dict[str, Any]) -> Any:
            if dropout_param.get("mode") != "train":
                return x, InjectedCache((dropout_param, None))
            index = patch.calls
            patch.calls += 1
            p = dropout_param.get("p")
            patch.ps.append(float(p) if isinstance(p, (int, float, np.floating)) else None)
            mask = mask_for(index, x, p)
            return (x * mask).astype(x.dtype, copy=False), InjectedCache((dropout_param, mask))

        return dropout_forward

    def _swap(self, fn: Any, hook: Any) -> None:
        """Swap a plain function's code for the trampoline to ``hook`` (undone by ``undo``)."""
        if type(fn) is not types.FunctionType or fn.__closure__ is not None:
            return  # a closure needs matching free variables: its names were rebound instead
        self._swapped.append((fn, fn.__code__, fn.__defaults__, fn.__kwdefaults__))
        fn.__code__ = _trampoline.__code__
        fn.__defaults__ = None
        fn.__kwdefaults__ = {"_nngrader_hook": hook}


def _backward_for(original: Any) -> Any:
    def dropout_backward(dout: Any, cache: Any) -> Any:
        # Only caches of the injected forward are ours; a net that calls its own forward but this
        # module's backward keeps the student's backward.
        if not isinstance(cache, InjectedCache):
            return original(dout, cache)
        mask = cache[1]
        return dout if mask is None else dout * mask

    return dropout_backward


def _student_modules(workspace: str, declared: list[str]) -> list[Any]:
    """The loaded modules of the student's workspace, declared (dotted names) or not."""
    root = os.path.realpath(workspace) + os.sep if workspace else None
    found: dict[int, Any] = {}
    for dotted in declared:
        if (module := sys.modules.get(dotted)) is not None:
            found[id(module)] = module
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if root and isinstance(path, str) and os.path.realpath(path).startswith(root):
            found[id(module)] = module
    return list(found.values())


def _keep_of(p: Any, meaning: str) -> float | None:
    """The keep probability a dropout ``p`` stands for under the course's meaning, if valid."""
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, float, np.integer, np.floating)):
        return None
    keep = float(p) if meaning == "keep" else 1.0 - float(p)
    return keep if 0.0 < keep <= 1.0 else None  # NaN fails both comparisons


def _found(modules: list[Any], name: str) -> list[Any]:
    """The distinct callables the student's modules bind to ``name``."""
    found: list[Any] = []
    for module in modules:
        value = getattr(module, name, None)
        if callable(value) and not any(value is f for f in found):
            found.append(value)
    return found


def _clone(fn: Any) -> Any:
    """A copy of a plain function that keeps the original code when the original's is swapped."""
    if type(fn) is not types.FunctionType:
        return fn
    copy = types.FunctionType(
        fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__
    )
    copy.__kwdefaults__ = dict(fn.__kwdefaults__) if fn.__kwdefaults__ else None
    return copy


def _trampoline(*args: Any, _nngrader_hook: Any = None, **kwargs: Any) -> Any:
    """The code swapped into the student's dropout functions: call the injected layer."""
    return _nngrader_hook(*args, **kwargs)
