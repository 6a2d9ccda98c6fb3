"""The Gradescope autograder zip: ``setup.sh`` and ``run_autograder`` at its root, the nngrader
wheel beside them, and the course spec when the instructor's is a file of their own.

Everything is decided here, at build time, where a mistake can still be told to the instructor:
the course spec is loaded (an unknown id or a broken file stops the build before the slow wheel
build), the limits are checked against ``Limits``, and the sandbox choice is one of
``isolation.CHOICES``. Gradescope stops a run at its timeout (10 minutes unless the assignment
says otherwise) and then shows a score of 0 and no test at all, so unless the instructor gives
``--submission-timeout`` (having raised Gradescope's), the zip limits the checks to the spec's
budget or ``GRADESCOPE_SECONDS``, whichever is less (the bundled specs say 600 to 900 s): checks
that would start later are reported as not run, the others keep their points.

The zip is written the same way every time (members in a fixed order, fixed timestamps) with Unix
modes in each member's ``external_attr``: the scripts ``rwxr-xr-x`` (Gradescope runs
``run_autograder`` as a program), the rest ``rw-r--r--``; it is written beside its final name
and renamed over it, so a failed build leaves no half zip behind.
"""

from __future__ import annotations

import os
import stat
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from grader.errors import GraderError
from grader.gradescope.isolation import CHOICES
from grader.gradescope.scripts import RUN, SETUP, SPEC_FILE, run_script, setup_script
from grader.gradescope.wheel import build_wheel, check_wheel
from grader.sandbox.limits import Limits
from grader.spec.registry import get_spec

__all__ = ["GRADESCOPE_SECONDS", "build_bundle", "bundle_name", "write_zip"]

GRADESCOPE_SECONDS = 480.0
"""The checks' time budget (``submission_seconds``) unless the instructor gives one: 8 of
Gradescope's default 10 minutes, leaving two for starting, taking the submission in and writing
the report."""
_EPOCH = (1980, 1, 1, 0, 0, 0)
"""The earliest time a zip can hold: the members' timestamps, the same in every build."""


def bundle_name(label: str) -> str:
    """The zip's file name for assignment ``label`` (an id, ``id@offering``)."""
    return f"nngrader-gradescope-{label}.zip"


def build_bundle(
    *,
    assignment: str,
    out: Path,
    sandbox: str = "fallback",
    limits: Mapping[str, float] | None = None,
    wheel: Path | None = None,
) -> Path:
    """Write the autograder zip for ``assignment`` into the folder ``out``.

    Args:
        assignment: a bundled spec's id (``id@offering``), or a spec file (put into the zip).
        sandbox: ``fallback`` (bubblewrap where it works, else process mode, said in the
            report), ``bwrap`` (bubblewrap or a score-0 result) or ``process``
            (``grader.gradescope.isolation``).
        limits: limit overrides by ``Limits`` field name in the field's units, over the spec's.
        wheel: an nngrader wheel to put in (checked whole); default: built from this tree.

    Returns:
        The zip's path, ``out/nngrader-gradescope-<assignment>.zip``.

    Raises:
        GraderError: the spec, a limit, the sandbox choice, the wheel or the output is wrong.
    """
    spec = get_spec(assignment)
    if sandbox not in CHOICES:
        raise GraderError(f"unknown sandbox choice {sandbox!r} ({', '.join(CHOICES)})")
    limits = dict(limits or {})
    try:
        budget = Limits.layered(spec.limits, limits).submission_seconds
    except (TypeError, ValueError) as exc:
        raise GraderError(f"limits: {exc}") from exc
    if "submission_seconds" not in limits:  # the instructor's own choice stands
        limits["submission_seconds"] = min(budget, GRADESCOPE_SECONDS)
    spec_file = assignment.endswith(".toml") or os.sep in assignment
    label = spec.id if spec_file else assignment
    max_score = sum(c.points for c in spec.active_checks())
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GraderError(f"cannot create the output folder {out}: {exc}") from exc
    with tempfile.TemporaryDirectory(prefix="nngrader-bundle-") as tmp:
        if wheel is None:
            wheel = build_wheel(Path(tmp))
        else:
            check_wheel(wheel)
        script = run_script(
            assignment=assignment,
            label=label,
            max_score=max_score,
            sandbox=sandbox,
            limits=limits,
            spec_file=spec_file,
        )
        members = [
            (SETUP, setup_script(wheel=wheel.name).encode(), 0o755),
            (RUN, script.encode(), 0o755),
            (wheel.name, wheel.read_bytes(), 0o644),
        ]
        if spec_file:
            members.append((SPEC_FILE, Path(assignment).read_bytes(), 0o644))
        target = out / bundle_name(label)
        try:
            write_zip(target, members)
        except OSError as exc:
            raise GraderError(f"cannot write {target}: {exc}") from exc
    return target


def write_zip(target: Path, members: Sequence[tuple[str, bytes, int]]) -> None:
    """Write ``members`` (name, content, Unix permission bits) to the zip ``target``, whole or
    not at all (a temporary file beside it, renamed over it)."""
    partial = target.with_name(f".{target.name}.partial")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data, mode in members:
                info = zipfile.ZipInfo(name, date_time=_EPOCH)
                info.create_system = 3  # Unix: unzip and Gradescope read the modes below
                info.external_attr = (stat.S_IFREG | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, data)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
