"""The training loop of the ``solver`` check, run in the grading process.

The grading process holds the data and the parameters, picks every minibatch and computes every
accuracy; the student's process answers one request per iteration (``train_step``): the
student's ``loss(X_batch, y_batch)`` at the parameters held here and, when the update rule is
student work, that rule applied to each parameter with the gradient just computed. Each answer
is validated here before it is used: a loss that is one finite number, a finite gradient and a
next_w of each parameter's shape. Where the course gives the update rule
(``api.not_student_work``) the trusted rule is applied here, through the oracle, with its
optimizer state held here. Validation data never enters the student's process.

What crosses, and why no more: the training split once (the student's process sees nearly all
of it over the epochs anyway), then per iteration the minibatch's indices and the parameters,
unless the student's process holds them already: the next_w it returned last, which became the
parameters here bit for bit. The state of a student's rule (its configs) stays in its process: it
is the student's own bookkeeping, which a rule could keep in its module's globals anyway, so
carrying it back and forth would prove nothing and double every message.

The loop replays ``reference/solver.py`` (``Solver.train``): the same minibatch draws from a
``RandomState`` seeded with the check's seed, the same learning-rate decay after each epoch end,
the same accuracy records (first iteration, epoch ends, last iteration) keeping the best
parameters, whose accuracy is the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.checks.context import Context
from grader.checks.oracle import Model
from grader.child.protocol import Handle
from grader.numeric import real_number

__all__ = ["FINITE", "RESULT", "TRAINED", "Setup", "Trained", "train_on_host"]

RESULT = "training result"
"""Comparison failed by a malformed answer of ``loss`` (or of the student's process)."""
TRAINED = "trained parameters"
"""Comparison failed by a malformed answer of the update rule."""
FINITE = "loss finite"
"""Comparison failed by a NaN or infinite loss or gradient."""
MALFORMED = "the student's process answered a training step with something malformed"


@dataclass(frozen=True)
class Setup:
    """What to train with: the update rule (canonical name) and the Solver's options."""

    rule: str
    rule_target: dict[str, str]
    """The student's rule in the protocol; unused when ``given``."""
    given: bool
    """The rule is not student work: the trusted rule is applied in this process."""
    learning_rate: float
    num_epochs: int
    batch_size: int
    lr_decay: float = 1.0
    num_train_samples: int | None = 1000
    """The Solver's default: its training-accuracy subset draw shifts the minibatch draws."""


@dataclass
class Trained:
    """What the loop found: the loss history, the best validation accuracy, what stopped it."""

    losses: list[float] = field(default_factory=list)
    accuracies: list[float] = field(default_factory=list)
    """Validation accuracy at each record (first iteration, epoch ends, last iteration)."""
    accuracy: float = 0.0
    failure: tuple[str, str] | None = None
    """(comparison name, message) of the problem that stopped training, if one did."""


class _Stop(Exception):
    """An answer of the student's process that training cannot go on with."""

    def __init__(self, comparison: str, message: str) -> None:
        super().__init__(message)
        self.comparison = comparison
        self.message = message


def train_on_host(
    ctx: Context, model: Handle, ref: Model, data: Mapping[str, np.ndarray], setup: Setup
) -> Trained:
    """Train from ``ref``'s parameters with the student's loss (``model``) and the rule.

    ``ref`` is the reference net whose forward pass gives the accuracies; its ``params`` are
    left at the best ones found.
    """
    X, y = data["X_train"], data["y_train"]
    X_val, y_val = data["X_val"], data["y_val"]
    params = {k: np.array(v, dtype=np.float64) for k, v in ref.params.items()}
    loop = _Loop(ctx, model, setup, params, (X, y))
    rng = np.random.RandomState(ctx.check.seed)  # draws what the Solver's seeded draws were
    num_train = X.shape[0]
    per_epoch = max(num_train // setup.batch_size, 1)
    iterations = setup.num_epochs * per_epoch
    trained = Trained()
    best: dict[str, np.ndarray] = {}
    try:
        for t in range(iterations):
            batch = rng.choice(num_train, setup.batch_size)
            epoch_end = (t + 1) % per_epoch == 0
            trained.losses.append(loop.step(batch, t, epoch_end))
            if t == 0 or t == iterations - 1 or epoch_end:
                if setup.num_train_samples is not None and num_train > setup.num_train_samples:
                    rng.choice(num_train, setup.num_train_samples)  # the train-accuracy subset
                accuracy = loop.accuracy(ref, X_val, y_val)
                trained.accuracies.append(accuracy)
                if accuracy > trained.accuracy:
                    trained.accuracy = accuracy
                    best = {k: v.copy() for k, v in loop.params.items()}
    except _Stop as stop:
        trained.failure = (stop.comparison, stop.message)
    ref.params = best or loop.params
    return trained


class _Loop:
    """The parameters held here, and one iteration's exchange with the student's process."""

    def __init__(
        self,
        ctx: Context,
        model: Handle,
        setup: Setup,
        params: dict[str, np.ndarray],
        train: tuple[np.ndarray, np.ndarray],
    ) -> None:
        self.ctx = ctx
        self.model = model
        self.setup = setup
        self.params = params
        self.train = train
        self.shapes = [[name, list(w.shape)] for name, w in params.items()]
        # The optimizer state of a given rule; a student's rule keeps its own in its process.
        self.configs: dict[str, Any] = {k: {"learning_rate": setup.learning_rate} for k in params}
        self.run: Handle | None = None
        """The training split and the rule's state in the student's process (after step 0)."""
        self.mirrored = False
        """The student's process holds ``params`` already: the next_w it returned last, packed,
        which became ``params`` here bit for bit (sending them back would carry the same bytes)."""

    def step(self, batch: np.ndarray, t: int, epoch_end: bool) -> float:
        """One iteration (one request); returns the loss and moves ``params`` on."""
        setup = self.setup
        fields: dict[str, Any] = {
            "model": {"handle": self.model.id},
            "shapes": self.shapes,
            "batch": batch,
        }
        if not self.mirrored:
            fields["params"] = np.concatenate([w.ravel() for w in self.params.values()])
        if self.run is None:
            # The training split crosses once (the student's process sees all of it over the
            # epochs anyway); the minibatches are chosen here.
            fields["X_train"], fields["y_train"] = self.train
        else:
            fields["run"] = self.run
        if not setup.given:
            fields["update_rule"] = setup.rule_target
            if self.run is None:
                fields["configs"] = self.configs
            if epoch_end:
                fields["decay"] = setup.lr_decay
        reply = self.ctx.request("train_step", **fields)
        if not isinstance(reply, dict) or "result" not in reply:
            raise _Stop(RESULT, f"iteration {t}: {MALFORMED}")
        if self.run is None:
            run = reply.get("run")
            if not isinstance(run, Handle):
                raise _Stop(RESULT, f"iteration {t}: {MALFORMED}")
            self.run = run
        loss, grads = self._loss_and_grads(reply["result"], t)
        if setup.given:
            self.params = self._given_update(grads, epoch_end)
        else:
            updates = reply.get("updates")
            self.params = self._next_params(updates, t)
            self.mirrored = isinstance(updates, np.ndarray)
        return loss

    def _loss_and_grads(self, result: Any, t: int) -> tuple[float, dict[str, np.ndarray]]:
        """The validated ``(loss, grads)`` that ``loss(X_batch, y_batch)`` returned."""
        where = f"iteration {t}: loss(X_batch, y_batch)"
        if not isinstance(result, (tuple, list)) or len(result) != 2:  # the Solver unpacks
            raise _Stop(RESULT, f"{where} returned {_describe(result)}; expected (loss, grads)")
        loss, grads = real_number(result[0]), self._unpack(result[1], f"{where} returned grads")
        if loss is None:
            raise _Stop(RESULT, f"{where} returned a loss that is {_describe(result[0])}")
        if not np.isfinite(loss):
            raise _Stop(FINITE, "the training loss became NaN or infinite")
        bad = [k for k, g in grads.items() if not np.isfinite(g).all()]
        if bad:
            raise _Stop(FINITE, f"the gradient of {bad[0]} became NaN or infinite (iteration {t})")
        return loss, grads

    def _next_params(self, updates: Any, t: int) -> dict[str, np.ndarray]:
        """The validated next_w of every parameter that the student's rule returned."""
        where = f"iteration {t}: {self.setup.rule}"
        if isinstance(updates, dict) and set(updates) == set(self.params):
            for name, value in updates.items():
                if not isinstance(value, (tuple, list)) or len(value) != 2:
                    raise _Stop(
                        TRAINED,
                        f"{where} returned {_describe(value)} for {name}; "
                        "expected (next_w, config)",
                    )
            updates = {name: value[0] for name, value in updates.items()}
        return self._unpack(updates, f"{where} returned next_w", TRAINED)

    def accuracy(self, ref: Model, X: np.ndarray, y: np.ndarray) -> float:
        """Accuracy on (X (N, D), y (N,)) of the parameters held here: the reference's forward
        pass computes the scores, or, with a kit's oracle (not ``live``), the student's own
        test-mode ``loss(X)``; the labels never leave this process."""
        if self.ctx.oracle.live:
            ref.params = self.params
            with np.errstate(all="ignore"):
                scores = ref.loss(X)
            return float(np.mean(np.argmax(scores, axis=1) == y))
        target = {"handle": self.model.id, "attr": "params"}
        for name, w in self.params.items():
            self.ctx.request("setitem", obj=target, key=name, value=w.copy())
        return _right(self.ctx.call({"handle": self.model.id, "attr": "loss"}, X.copy()), y)

    def _given_update(self, grads: dict[str, np.ndarray], epoch_end: bool) -> dict[str, np.ndarray]:
        """The course's own (trusted) rule, applied here with the optimizer state held here."""
        params = {}
        for name, w in self.params.items():
            next_w, self.configs[name] = self.ctx.oracle.call(
                self.setup.rule, w.copy(), grads[name], self.configs[name]
            )
            params[name] = np.array(next_w, dtype=np.float64)
        if epoch_end:
            for config in self.configs.values():
                config["learning_rate"] *= self.setup.lr_decay
        return params

    def _unpack(self, value: Any, what: str, comparison: str = RESULT) -> dict[str, np.ndarray]:
        """Arrays shaped like ``params`` from one packed vector or a dict (validated)."""
        if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "iuf":
            sizes = [w.size for w in self.params.values()]
            if value.size == sum(sizes):
                pieces = np.split(value.astype(np.float64), np.cumsum(sizes)[:-1])
                return {
                    name: piece.reshape(w.shape)
                    for (name, w), piece in zip(self.params.items(), pieces, strict=True)
                }
        if not isinstance(value, dict):
            shapes = ", ".join(f"{name} {w.shape}" for name, w in self.params.items())
            raise _Stop(
                comparison, f"{what} as {_describe(value)}; expected a dict of arrays: {shapes}"
            )
        if set(value) != set(self.params):
            # Name only our parameter names: the student's keys are text the student controls.
            missing = sorted(set(self.params) - set(value))
            extra = len(set(value) - set(self.params))
            raise _Stop(
                comparison,
                f"{what} missing {missing or 'none'} and with {extra} key(s) that are not "
                f"parameters; the net's parameters are {sorted(self.params)}",
            )
        for name, w in self.params.items():
            v = value[name]
            if not isinstance(v, np.ndarray) or v.shape != w.shape or v.dtype.kind not in "iuf":
                raise _Stop(comparison, f"{what} for {name} as {_describe(v)}; {name} is {w.shape}")
        return {name: np.asarray(value[name], dtype=np.float64) for name in self.params}


def _right(scores: Any, y: np.ndarray) -> float:
    """The fraction of rows of the student's ``scores`` (N, C) whose largest entry is at the label
    ``y`` (N,); anything but finite (N, C) numbers is right nowhere."""
    if not isinstance(scores, np.ndarray) or scores.ndim != 2 or scores.shape[0] != y.shape[0]:
        return 0.0
    if scores.dtype.kind not in "iuf" or not np.all(np.isfinite(scores)):
        return 0.0
    return float(np.mean(np.argmax(scores, axis=1) == y))


def _describe(value: Any) -> str:
    """Short description of a value from the student's process, for messages."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, tuple):
        return f"a tuple of {len(value)} values"
    if value is None:
        return "None"
    if isinstance(value, Handle):
        return "an object that cannot leave the student's process"
    return f"a {type(value).__name__}"
