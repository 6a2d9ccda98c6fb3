"""Does a course's graded code fit a submission? Each graded function or class, read from source.

For every subject of a spec's checks (``grader.checks.catalog``) that is student work, the module
that should define it (``module_of``) is looked up among the submission's files and read with
``grader.workspace.signatures``. Each subject is then:

* ``fits``: defined, and the checks' calls bind to its signature (``CALLS``, ``net_keywords``);
* ``unknown``: defined, signature unreadable (an import, a star import, a file that does not
  parse, a class whose ``__init__`` is inherited) — never held against the submission;
* ``misfit``: defined with a signature the checks cannot call (the course's FullyConnectedNet
  argument missing, three parameters where the checks pass four);
* ``absent``: its module is in the submission but does not define it;
* ``no file``: the module is not in the submission (a grading matter, not a detection one).

A spec is refuted by a misfit or an absent subject — that is a different homework's file — or
when none of its subjects is found at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from grader.checks.catalog import module_of
from grader.spec import Api, Spec
from grader.workspace.signatures import Definition, ModuleFacts, read_module

__all__ = ["CALLS", "Fit", "fit", "net_keywords"]

CALLS: Mapping[str, int] = {
    **dict.fromkeys(("affine_forward",), 3),
    **dict.fromkeys(("relu_forward",), 1),
    **dict.fromkeys(("batchnorm_forward", "layernorm_forward"), 4),
    **dict.fromkeys(
        (
            "affine_backward",
            "relu_backward",
            "batchnorm_backward",
            "batchnorm_backward_alt",
            "layernorm_backward",
            "softmax_loss",
            "svm_loss",
            "dropout_forward",
            "dropout_backward",
        ),
        2,
    ),
    **dict.fromkeys(("sgd", "sgd_momentum", "sgd_nesterov_momentum", "rmsprop", "adam"), 3),
}
"""Function subject -> how many positional arguments the checks pass (``grader.checks``)."""
FOUND = ("fits", "unknown")


def net_keywords(api: Api, subject: str) -> frozenset[str]:
    """Constructor keywords a model check may pass, under the course's names
    (``grader.checks.nets.course_kwargs``); every starter's constructor takes all of them."""
    common = {"input_dim", "num_classes", "weight_scale", "reg"}
    if subject == "TwoLayerNet":
        return frozenset({*common, api.twolayer_hidden_arg})
    return frozenset({*common, "dtype", "seed", api.fc_dropout_arg, api.fc_normalization})


@dataclass(frozen=True)
class Fit:
    """How a spec's graded subjects fit one submission."""

    status: Mapping[str, str]
    """Canonical subject -> ``fits``, ``unknown``, ``misfit``, ``absent`` or ``no file``."""
    details: Mapping[str, str]
    """Subject -> why it is a misfit or absent (file, name, signature found)."""

    @property
    def found(self) -> int:
        """Subjects the submission defines."""
        return sum(s in FOUND for s in self.status.values())

    @property
    def refuted(self) -> bool:
        """The submission is not this course's homework."""
        return self.found == 0 or any(s in ("misfit", "absent") for s in self.status.values())

    def reasons(self, limit: int = 4) -> list[str]:
        """The first ``limit`` details of misfit and absent subjects, then a count of the rest."""
        bad = [self.details[s] for s, v in self.status.items() if v in ("misfit", "absent")]
        if not bad and self.found == 0:
            return ["none of its graded functions is in the files"]
        more = [f"and {len(bad) - limit} more"] if len(bad) > limit else []
        return bad[:limit] + more


def _judge(api: Api, subject: str, name: str, where: str, d: Definition) -> tuple[str, str]:
    """(status, detail) of one defined subject."""
    if d.kind == "other" or (d.kind == "class" and d.params is None and d.inherits):
        return "unknown", ""
    if subject in CALLS:
        if d.kind != "function":
            return "misfit", f"{where} defines {name} as a class, not a function"
        if d.params is None or d.params.accepts(CALLS[subject]):
            return "fits", ""
        return "misfit", (
            f"{where}: {name}{d.params.describe()} cannot take the {CALLS[subject]} "
            "arguments the course passes"
        )
    if d.kind != "class":
        return "misfit", f"{where} defines {name} as a function, not a class"
    if "loss" not in d.methods and not d.inherits:
        return "misfit", f"{where}: {name} has no loss method"
    if d.params is None:  # no __init__ of its own and no base class: takes no arguments
        return "misfit", f"{where}: {name} has no __init__ taking the course's arguments"
    positional = 1 if subject == "FullyConnectedNet" else 0
    wanted = net_keywords(api, subject)
    if d.params.accepts(positional, wanted):
        return "fits", ""
    missing = sorted(k for k in wanted if k not in d.params.keywords)
    lacks = f" (no {', '.join(missing)})" if missing and not d.params.var_kwargs else ""
    return "misfit", (
        f"{where}: {name}{d.params.describe()} does not take the course's arguments{lacks}"
    )


def fit(spec: Spec, files: Mapping[str, Path], cache: dict[Path, ModuleFacts]) -> Fit:
    """How ``spec``'s graded subjects fit the discovered ``files`` (logical module -> path).

    ``cache`` keeps each file's facts across the specs compared for one submission.
    """
    status: dict[str, str] = {}
    details: dict[str, str] = {}
    subjects = dict.fromkeys(c.subject for c in spec.active_checks())
    for subject in subjects:
        logical = module_of(subject)
        path = files.get(logical)
        if path is None:
            status[subject] = "no file"
            continue
        if path not in cache:
            cache[path] = read_module(path)
        name = spec.api.name(subject)
        where = path.name
        definition = cache[path].lookup(name)
        if definition is None:
            status[subject] = "absent"
            details[subject] = f"{where} has no {name}"
            continue
        status[subject], details[subject] = _judge(spec.api, subject, name, where, definition)
    return Fit(status, details)
