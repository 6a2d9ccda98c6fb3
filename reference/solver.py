"""Minibatch training of a classification model (given code; variants.md §1.4, §6.2).

Imports no solution module (not even ``reference.optim``): the caller passes the update rule as a
callable, or as a name together with the module to look it up in (``optim_module``).

The Solver seeds nothing. Every random number comes from the global legacy ``np.random`` state,
in the canonical starter's order (see :class:`Solver`), so a notebook cell that seeds and then
trains replays draw for draw.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from types import ModuleType
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

__all__ = ["Solver"]

UpdateRule = Callable[[Any, Any, dict[str, Any]], tuple[Any, dict[str, Any]]]


class Solver:
    """Trains ``model`` on ``data`` with stochastic minibatches and an update rule.

    Parameters
    ----------
    model : object
        Has ``params`` (dict name -> ndarray) and ``loss(X, y=None)``: with ``y`` returns
        ``(loss, grads)`` (``grads`` keyed like ``params``), without it the class scores,
        ndarray, shape (N, C), computed in test mode.
    data : dict
        ``X_train`` : ndarray, shape (N_train, *F); ``y_train`` : ndarray, shape (N_train,);
        ``X_val`` : ndarray, shape (N_val, *F); ``y_val`` : ndarray, shape (N_val,).
    update_rule : callable or str, default 'sgd'
        ``update(w, dw, config) -> (next_w, config)``, or the name of one in ``optim_module``.
    optim_module : module, optional
        Where a string ``update_rule`` is looked up (the starters import their ``optim``).
    optim_config : dict, default {}
        Hyperparameters; each parameter gets its own shallow copy.
    lr_decay : float, default 1.0
        Multiplies every config's ``learning_rate`` at the end of each epoch.
    batch_size : int, default 100
    num_epochs : int, default 10
    num_train_samples : int or None, default 1000
        Size of the random subset for training accuracy (None: all).
    num_val_samples : int or None, default None
        Size of the random subset for validation accuracy (None: all).
    checkpoint_name : str or None, default None
        Prefix of ``"%s_epoch_%d.pkl"`` checkpoints written at every accuracy check.
    print_every : int, default 10
    verbose : bool, default True

    Raises
    ------
    ValueError
        ``'Unrecognized arguments ...'`` for unknown keywords; ``'Invalid update_rule ...'`` for a
        name without ``optim_module`` or not found in it.

    Attributes
    ----------
    update_rule : callable
    optim_configs : dict
        Parameter name -> that parameter's config (state included).
    epoch : int
    best_val_acc : float
    best_params : dict
        Copies of ``model.params`` at the best validation accuracy so far.
    loss_history, train_acc_history, val_acc_history : list of float

    Notes
    -----
    Draw order, identical to the canonical starter. ``train()`` with
    :math:`I = \\max(\\lfloor N_{train} / B \\rfloor, 1)` iterations per epoch runs
    :math:`T = E \\cdot I` iterations; iteration ``t`` does, in order:

    1. ``np.random.choice(N_train, batch_size)`` (with replacement) for the minibatch;
    2. ``model.loss(X_batch, y_batch)`` (whatever the model draws, e.g. dropout masks);
    3. the updates, parameter by parameter in ``model.params`` order (no draws);
    4. at ``t == 0``, at each epoch end and at ``t == T - 1``: ``check_accuracy`` on the training
       set (one ``np.random.choice(N_train, num_train_samples)`` if ``N_train >
       num_train_samples``), then on the validation set (likewise with ``num_val_samples``);
       test-mode ``model.loss`` calls draw nothing in the reference layers.

    The epoch end (``(t + 1) % I == 0``) increments ``epoch`` and decays the learning rates before
    the check. Histories have ``T`` losses and ``E + 1`` accuracies when ``I > 1``. At the end
    ``model.params`` **is replaced by** ``best_params`` (as in the starters, even when it is still
    empty because the validation accuracy never rose above 0).
    """

    def __init__(self, model: Any, data: dict[str, NDArray[Any]], **kwargs: Any) -> None:
        self.model = model
        self.X_train, self.y_train = data["X_train"], data["y_train"]
        self.X_val, self.y_val = data["X_val"], data["y_val"]

        update_rule = kwargs.pop("update_rule", "sgd")
        optim_module: ModuleType | None = kwargs.pop("optim_module", None)
        self.optim_config: dict[str, Any] = kwargs.pop("optim_config", {})
        self.lr_decay: float = kwargs.pop("lr_decay", 1.0)
        self.batch_size: int = kwargs.pop("batch_size", 100)
        self.num_epochs: int = kwargs.pop("num_epochs", 10)
        self.num_train_samples: int | None = kwargs.pop("num_train_samples", 1000)
        self.num_val_samples: int | None = kwargs.pop("num_val_samples", None)
        self.checkpoint_name: str | None = kwargs.pop("checkpoint_name", None)
        self.print_every: int = kwargs.pop("print_every", 10)
        self.verbose: bool = kwargs.pop("verbose", True)
        if kwargs:
            extra = ", ".join(f'"{k}"' for k in kwargs)
            raise ValueError(f"Unrecognized arguments {extra}")
        self.update_rule: UpdateRule = self._resolve(update_rule, optim_module)
        self._reset()

    @staticmethod
    def _resolve(update_rule: Any, optim_module: ModuleType | None) -> UpdateRule:
        """The update function: ``update_rule``, or its name looked up in ``optim_module``."""
        if isinstance(update_rule, str):
            found = getattr(optim_module, update_rule, None) if optim_module is not None else None
            if callable(found):
                return cast(UpdateRule, found)
        elif callable(update_rule):
            return cast(UpdateRule, update_rule)
        raise ValueError(f'Invalid update_rule "{update_rule}"')

    def _reset(self) -> None:
        """Fresh bookkeeping; one shallow copy of ``optim_config`` per parameter."""
        self.epoch = 0
        self.best_val_acc = 0.0
        self.best_params: dict[str, Any] = {}
        self.loss_history: list[Any] = []
        self.train_acc_history: list[float] = []
        self.val_acc_history: list[float] = []
        self.optim_configs = {name: dict(self.optim_config) for name in self.model.params}

    def _step(self) -> None:
        """One minibatch (one draw), one forward/backward pass, one update of every parameter."""
        batch = np.random.choice(self.X_train.shape[0], self.batch_size)
        loss, grads = self.model.loss(self.X_train[batch], self.y_train[batch])
        self.loss_history.append(loss)
        for name, w in self.model.params.items():
            next_w, next_config = self.update_rule(w, grads[name], self.optim_configs[name])
            self.model.params[name] = next_w
            self.optim_configs[name] = next_config

    def _save_checkpoint(self) -> None:
        """Pickle the canonical checkpoint dict to ``"<checkpoint_name>_epoch_<epoch>.pkl"``."""
        if self.checkpoint_name is None:
            return
        checkpoint = {
            "model": self.model,
            "update_rule": self.update_rule,
            "lr_decay": self.lr_decay,
            "optim_config": self.optim_config,
            "batch_size": self.batch_size,
            "num_train_samples": self.num_train_samples,
            "num_val_samples": self.num_val_samples,
            "epoch": self.epoch,
            "loss_history": self.loss_history,
            "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history,
        }
        filename = f"{self.checkpoint_name}_epoch_{self.epoch}.pkl"
        if self.verbose:
            print(f'Saving checkpoint to "{filename}"')
        with open(filename, "wb") as f:
            pickle.dump(checkpoint, f)

    def check_accuracy(
        self,
        X: NDArray[Any],
        y: NDArray[Any],
        num_samples: int | None = None,
        batch_size: int = 100,
    ) -> float:
        """Accuracy of the model's test-mode predictions.

        Parameters
        ----------
        X : ndarray, shape (N, *F)
        y : ndarray, shape (N,)
        num_samples : int, optional
            If given and smaller than N, score a subset drawn by one
            ``np.random.choice(N, num_samples)`` (with replacement).
        batch_size : int
            Rows per ``model.loss`` call.

        Returns
        -------
        float

        Notes
        -----
        :math:`\\mathrm{acc} = \\frac1N \\sum_i [\\arg\\max_c s_{ic} = y_i]`.
        """
        n = X.shape[0]
        if num_samples is not None and n > num_samples:
            subset = np.random.choice(n, num_samples)
            n, X, y = num_samples, X[subset], y[subset]
        num_batches = n // batch_size + (n % batch_size != 0)
        predictions = [
            np.argmax(self.model.loss(X[i * batch_size : (i + 1) * batch_size]), axis=1)
            for i in range(num_batches)
        ]
        return float(np.mean(np.hstack(predictions) == y))

    def train(self) -> None:
        """Run the optimisation (draw order in the class Notes)."""
        num_train = self.X_train.shape[0]
        iterations_per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch
        for t in range(num_iterations):
            self._step()
            if self.verbose and t % self.print_every == 0:
                # printf formatting on purpose: it is the starters' and accepts what they accept
                print(
                    "(Iteration %d / %d) loss: %f"  # noqa: UP031
                    % (t + 1, num_iterations, self.loss_history[-1])
                )
            epoch_end = (t + 1) % iterations_per_epoch == 0
            if epoch_end:
                self.epoch += 1
                for config in self.optim_configs.values():
                    config["learning_rate"] *= self.lr_decay
            if t == 0 or t == num_iterations - 1 or epoch_end:
                self._record_accuracies()
        self.model.params = self.best_params

    def _record_accuracies(self) -> None:
        """Train then validation accuracy (in that draw order); checkpoint; keep the best params."""
        train_acc = self.check_accuracy(
            self.X_train, self.y_train, num_samples=self.num_train_samples
        )
        val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        self._save_checkpoint()
        if self.verbose:
            print(
                "(Epoch %d / %d) train acc: %f; val_acc: %f"  # noqa: UP031
                % (self.epoch, self.num_epochs, train_acc, val_acc)
            )
        if val_acc > self.best_val_acc:
            self.best_val_acc = val_acc
            self.best_params = {name: w.copy() for name, w in self.model.params.items()}

    def record_histories_as_npz(self, filename: str | os.PathLike[str]) -> None:
        """Save the histories in CS182's format: ``train_losses``, ``train_accs``, ``val_accs``.

        Parameters
        ----------
        filename : str or path
            Passed to ``np.savez`` (which appends ``.npz`` when missing).

        Notes
        -----
        The histories are stored as float64 arrays, so ``np.load(..., allow_pickle=False)`` reads
        them.
        """
        np.savez(
            filename,
            train_losses=np.asarray(self.loss_history, dtype=np.float64),
            train_accs=np.asarray(self.train_acc_history, dtype=np.float64),
            val_accs=np.asarray(self.val_acc_history, dtype=np.float64),
        )
