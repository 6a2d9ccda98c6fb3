"""Solver: minibatch training of a model with an update rule (given code, variants.md §1.4).

Imports no solution module: the caller passes the update rule (a callable, or a name looked up in
``optim_module``). RNG draw order, matching the starters draw for draw: every iteration one
``np.random.choice(num_train, batch_size)`` (with replacement) from the global legacy generator;
every accuracy check on more than ``num_samples`` rows one ``np.random.choice(N, num_samples)``
(train accuracy on 1000 samples, validation on ``num_val_samples``).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["Solver"]


class Solver:
    """Trains ``model`` (``params`` dict and ``loss(X, y=None)``) on ``data``.

    ``data``: ``X_train`` (N, ...), ``y_train`` (N,), ``X_val``, ``y_val``. Options: update_rule,
    optim_module, optim_config, lr_decay, batch_size, num_epochs, num_train_samples,
    num_val_samples, checkpoint_name, print_every, verbose.
    """

    def __init__(self, model: Any, data: dict[str, np.ndarray], **kwargs: Any) -> None:
        self.model = model
        self.X_train, self.y_train = data["X_train"], data["y_train"]
        self.X_val, self.y_val = data["X_val"], data["y_val"]
        update_rule = kwargs.pop("update_rule", "sgd")
        optim_module: ModuleType | None = kwargs.pop("optim_module", None)
        self.optim_config: dict[str, Any] = kwargs.pop("optim_config", {})
        self.lr_decay = kwargs.pop("lr_decay", 1.0)
        self.batch_size = kwargs.pop("batch_size", 100)
        self.num_epochs = kwargs.pop("num_epochs", 10)
        self.num_train_samples = kwargs.pop("num_train_samples", 1000)
        self.num_val_samples = kwargs.pop("num_val_samples", None)
        self.checkpoint_name = kwargs.pop("checkpoint_name", None)
        self.print_every = kwargs.pop("print_every", 10)
        self.verbose = kwargs.pop("verbose", True)
        if kwargs:
            raise ValueError("Unrecognized arguments %s" % ", ".join(f'"{k}"' for k in kwargs))
        if isinstance(update_rule, str):
            if optim_module is None or not hasattr(optim_module, update_rule):
                raise ValueError(f'Invalid update_rule "{update_rule}"')
            update_rule = getattr(optim_module, update_rule)
        self.update_rule: Callable[..., Any] = update_rule
        self._reset()

    def _reset(self) -> None:
        self.epoch = 0
        self.best_val_acc = 0.0
        self.best_params: dict[str, np.ndarray] = {}
        self.loss_history: list[float] = []
        self.train_acc_history: list[float] = []
        self.val_acc_history: list[float] = []
        self.optim_configs = {p: dict(self.optim_config) for p in self.model.params}

    def _step(self) -> None:
        batch = np.random.choice(self.X_train.shape[0], self.batch_size)
        loss, grads = self.model.loss(self.X_train[batch], self.y_train[batch])
        self.loss_history.append(loss)
        for p, w in self.model.params.items():
            next_w, next_config = self.update_rule(w, grads[p], self.optim_configs[p])
            self.model.params[p] = next_w
            self.optim_configs[p] = next_config

    def _save_checkpoint(self) -> None:
        if self.checkpoint_name is None:
            return
        checkpoint = {
            "model": self.model, "update_rule": self.update_rule, "lr_decay": self.lr_decay,
            "optim_config": self.optim_config, "batch_size": self.batch_size,
            "num_train_samples": self.num_train_samples, "num_val_samples": self.num_val_samples,
            "epoch": self.epoch, "loss_history": self.loss_history,
            "train_acc_history": self.train_acc_history, "val_acc_history": self.val_acc_history,
        }
        filename = "%s_epoch_%d.pkl" % (self.checkpoint_name, self.epoch)
        if self.verbose:
            print(f'Saving checkpoint to "{filename}"')
        with open(filename, "wb") as f:
            pickle.dump(checkpoint, f)

    def check_accuracy(self, X: np.ndarray, y: np.ndarray, num_samples: int | None = None,
                       batch_size: int = 100) -> float:
        """Accuracy of the model's test-mode predictions, on a random subset when ``num_samples``."""
        n = X.shape[0]
        if num_samples is not None and n > num_samples:
            mask = np.random.choice(n, num_samples)
            n, X, y = num_samples, X[mask], y[mask]
        batches = max(n // batch_size + (n % batch_size != 0), 1)
        preds = [np.argmax(self.model.loss(X[i * batch_size:(i + 1) * batch_size]), axis=1) for i in range(batches)]
        return float(np.mean(np.hstack(preds) == y))

    def train(self) -> None:
        """Run the optimisation; keeps the best validation parameters in ``model.params``."""
        num_train = self.X_train.shape[0]
        iterations_per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch
        for t in range(num_iterations):
            self._step()
            if self.verbose and t % self.print_every == 0:
                print("(Iteration %d / %d) loss: %f" % (t + 1, num_iterations, self.loss_history[-1]))
            epoch_end = (t + 1) % iterations_per_epoch == 0
            if epoch_end:
                self.epoch += 1
                for config in self.optim_configs.values():
                    config["learning_rate"] *= self.lr_decay
            first_it, last_it = t == 0, t == num_iterations - 1
            if first_it or last_it or epoch_end:
                train_acc = self.check_accuracy(self.X_train, self.y_train, num_samples=self.num_train_samples)
                val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
                self.train_acc_history.append(train_acc)
                self.val_acc_history.append(val_acc)
                self._save_checkpoint()
                if self.verbose:
                    print("(Epoch %d / %d) train acc: %f; val_acc: %f" % (self.epoch, self.num_epochs, train_acc, val_acc))
                if val_acc > self.best_val_acc:
                    self.best_val_acc = val_acc
                    self.best_params = {k: v.copy() for k, v in self.model.params.items()}
        self.model.params = self.best_params or self.model.params

    def record_histories_as_npz(self, filename: str | os.PathLike[str]) -> None:
        """Save the loss and accuracy histories (CS182's format: train_losses, train_accs, val_accs)."""
        np.savez(filename, train_losses=np.asarray(self.loss_history), train_accs=np.asarray(self.train_acc_history),
                 val_accs=np.asarray(self.val_acc_history))
