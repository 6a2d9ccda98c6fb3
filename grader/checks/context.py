"""What a check sees while it runs: seeded inputs, calls into the child, the oracle, comparisons.

A check (``grader.checks.registry``) is a small function ``(ctx) -> None`` that builds inputs,
calls the student's code through ``ctx.call``, gets expected values from ``ctx.oracle``, and
records comparisons with ``ctx.compare`` / ``ctx.require``. ``grader.checks.execute`` turns the
record into an ``Outcome``; ``grader.scoring`` decides its points.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from fractions import Fraction
from typing import Any

import numpy as np

from grader.checks.oracle import Oracle
from grader.child.protocol import Encoder
from grader.compare import compare
from grader.errors import BadReturn
from grader.results import Comparison
from grader.sandbox.session import Session
from grader.spec import Check, Spec

__all__ = ["BadReturn", "Context", "describe", "generator_kept"]


@contextmanager
def generator_kept() -> Iterator[None]:
    """Leave numpy's global generator as it was: for oracle questions a check asks before it
    knows it needs the answer (a kit's oracle knows only the questions the correct path asks,
    so a question that follows a failure is asked on every path), which must not move the
    stream the later draws of the check see."""
    state = np.random.get_state()
    try:
        yield
    finally:
        np.random.set_state(state)


class Context:
    """Inputs, student calls and comparisons of one check."""

    def __init__(
        self, check: Check, spec: Spec, session: Session, oracle: Oracle, timeout: float
    ) -> None:
        self.check = check
        self.spec = spec
        self.api = spec.api
        self.session = session
        self.oracle = oracle
        self.deadline = time.monotonic() + timeout
        # RandomState(seed) draws exactly what the notebooks' np.random.seed(seed) cells draw.
        self.rng = np.random.RandomState(check.seed)
        self.comparisons: list[Comparison] = []
        self.diagnosis: str | None = None
        self.notes: list[str] = []
        self.curves: dict[str, tuple[float, ...]] = {}
        """Training histories measured here, for the report's plots (``Outcome.curves``)."""
        self.credit: Fraction | None = None

    # -- inputs ---------------------------------------------------------------------------------

    def shape(self, name: str, default: Sequence[int]) -> tuple[int, ...]:
        return tuple(self.check.shapes.get(name, tuple(default)))

    def param(self, name: str, default: Any) -> Any:
        return self.check.params.get(name, default)

    def randn(
        self, name: str, default: Sequence[int], scale: float = 1.0, shift: float = 0.0
    ) -> np.ndarray:
        """Standard-normal array of the check's shape for ``name`` (seeded, float64)."""
        return scale * self.rng.randn(*self.shape(name, default)) + shift

    # -- the student's side ---------------------------------------------------------------------

    def target(self, canonical: str) -> dict[str, str]:
        """Protocol target of a canonical function/class, under the course's names."""
        return {"module": self.spec.module_of(canonical), "attr": self.api.name(canonical)}

    def call(
        self,
        fn: str | dict[str, Any],
        *args: Any,
        keep: Sequence[int] = (),
        seed: int | None = None,
        return_args: bool = False,
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        """Call a student function in the child; returns its result.

        With ``return_args`` the reply is ``{"value", "args", "kwargs"}``: the arguments as the
        function left them (batchnorm writes running statistics into ``bn_param``).
        """
        target = self.target(fn) if isinstance(fn, str) else fn
        fields: dict[str, Any] = {"fn": target, "keep": list(keep), "return_args": return_args}
        if seed is not None:
            fields["seed"] = seed
        reply = self.request("call", (list(args), kwargs or {}), **fields)
        # The reply comes from the student's process: its structure is checked, never assumed.
        if not (
            isinstance(reply, dict)
            and "value" in reply
            and (
                not return_args
                or (
                    isinstance(reply.get("args"), list)
                    and len(reply["args"]) == len(args)
                    and isinstance(reply.get("kwargs"), dict)
                )
            )
        ):
            raise BadReturn("the student's process answered a call with something malformed")
        return reply if return_args else reply["value"]

    def request(
        self, op: str, payload: tuple[list[Any], dict[str, Any]] | None = None, **fields: Any
    ) -> Any:
        """Send one protocol request; every field is encoded (arrays travel in the payload)."""
        if payload is not None:
            fields["args"], fields["kwargs"] = payload
        enc = Encoder()
        encoded = {k: enc.encode(v) for k, v in fields.items()}
        return self.session.request(op, self.deadline, enc.arrays, **encoded)

    def returns(self, value: Any, names: Sequence[str], what: str) -> tuple[Any, ...]:
        """Check that a student function returned a tuple with one value per name."""
        if len(names) == 1 and not isinstance(value, tuple):
            return (value,)
        if not isinstance(value, (tuple, list)) or len(value) != len(names):
            raise BadReturn(
                f"{what} returned {describe(value)}; expected a tuple ({', '.join(names)})"
            )
        return tuple(value)

    # -- judging --------------------------------------------------------------------------------

    def compare(self, name: str, actual: Any, expected: Any) -> bool:
        """Compare with the spec's tolerance for the dtype the student returned."""
        dtype = "float32" if getattr(actual, "dtype", None) == np.float32 else "float64"
        tol = self.spec.tolerance(self.check, dtype)
        result = compare(name, actual, expected, rtol=tol.rtol, atol=tol.atol)
        self.comparisons.append(result)
        return result.passed

    def diagnose(
        self, student: dict[str, Any], candidates: Sequence[tuple[str, dict[str, Any]]]
    ) -> None:
        """After a failure, name the first known mistake whose outputs the student's all match."""
        if self.diagnosis or all(c.passed for c in self.comparisons):
            return
        for message, expected in candidates:
            if expected and all(
                name in student and self._close(student[name], value)
                for name, value in expected.items()
            ):
                self.diagnosis = message
                return

    def _close(self, actual: Any, expected: Any) -> bool:
        dtype = "float32" if getattr(actual, "dtype", None) == np.float32 else "float64"
        tol = self.spec.tolerance(self.check, dtype)
        return compare("candidate", actual, expected, rtol=tol.rtol, atol=tol.atol).passed

    def award(self, fraction: Fraction) -> None:
        """Earn ``fraction`` (0..1) of the check's points, for checks that give partial credit."""
        if not 0 <= fraction <= 1:
            raise ValueError(f"credit {fraction} is outside 0..1")
        self.credit = fraction

    def require(self, name: str, ok: bool, message: str) -> bool:
        """Record a property check that is not an array comparison."""
        self.comparisons.append(Comparison(name=name, passed=bool(ok), message=message))
        return bool(ok)


def describe(value: Any) -> str:
    """Short description of a returned value for messages."""
    if isinstance(value, tuple):
        return f"a tuple of {len(value)} values"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if value is None:
        return "None"
    return f"a {type(value).__name__}"
