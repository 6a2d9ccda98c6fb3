"""The accuracy stage as the pipeline runs it: the rules to grade, the data, the sandbox."""

from __future__ import annotations

from pathlib import Path

from grader.accuracy import data
from grader.accuracy.artifact import Model
from grader.accuracy.check import Accuracy, NotebookModel, grade_rules
from grader.accuracy.course_npy import load_in_sandbox
from grader.checks.oracle import Oracle
from grader.sandbox import Limits
from grader.spec import Spec
from grader.workspace.stage import Staged

__all__ = ["KIT_NOTE", "run_accuracy"]

KIT_NOTE = "the accuracy of your trained model is graded by your instructor"


def run_accuracy(
    staged: Staged,
    spec: Spec,
    root: Path,
    *,
    data_dir: Path | None,
    isolation: str,
    limits: Limits,
    oracle: Oracle,
    public_only: bool = False,
    notebook: NotebookModel | None = None,
) -> Accuracy:
    """Grade ``spec``'s accuracy rules on the submission under ``root`` (``data_dir`` None: the
    rules are left out, with a note). ``public_only`` keeps the visible rules only."""
    rules = [r for r in spec.final_accuracy if not public_only or r.visibility == "visible"]
    if rules and not oracle.live:
        # A kit has no reference forward pass to measure a trained model with.
        return Accuracy(notes=(KIT_NOTE,))
    cifar = data.load(data_dir) if data_dir is not None and rules else None

    def open_course(path: Path) -> Model:
        return load_in_sandbox(
            path,
            workspace=staged.workspace,
            runtime=staged.runtime,
            output=staged.output,
            isolation=isolation,
            limits=limits,
            packages=spec.runtime,
        )

    return grade_rules(
        rules, root, cifar, oracle=oracle, open_course=open_course, notebook=notebook
    )
