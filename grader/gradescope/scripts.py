"""The two scripts of the Gradescope zip, rendered from ``templates/`` with the build's choices.

Both are bash, kept as package data so that they read (and ``bash -n`` checks) as the shell they
are: ``setup.sh`` installs, and ``run_autograder`` must leave a results.json even when the Python
it calls cannot start, which no Python script could promise. The build's choices are written in
where a template says ``@NAME@``, each value shell-quoted (or, for ``@ASSIGNMENT_JSON@``, a JSON
string shell-quoted), so that an assignment id or a path cannot become shell code; a placeholder
without a value, or a value without a placeholder, is a bug and raises.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from importlib import resources

__all__ = ["RUN", "SETUP", "SPEC_FILE", "limit_option", "render", "run_script", "setup_script"]

SETUP = "setup.sh"
RUN = "run_autograder"
SPEC_FILE = "assignment.toml"
"""A course spec given as a file goes into the zip under this name (Gradescope unpacks the zip
into ``$AUTOGRADER_ROOT/source``)."""
_PLACEHOLDER = re.compile(r"@[A-Z_]+@")


def render(name: str, values: Mapping[str, str]) -> str:
    """Template ``name`` with each ``@KEY@`` replaced by ``values[KEY]`` (written as given), in
    one pass: a value is never searched for placeholders.

    Raises:
        ValueError: a placeholder of the template has no value, or a value is for none.
    """
    text = (resources.files("grader.gradescope") / "templates" / name).read_text(encoding="utf-8")
    used = set(_PLACEHOLDER.findall(text))
    unknown = sorted(used - {f"@{key}@" for key in values})
    unused = sorted({f"@{key}@" for key in values} - used)
    if unknown or unused:
        raise ValueError(f"template {name}: no value for {unknown}, no placeholder for {unused}")
    return _PLACEHOLDER.sub(lambda m: values[m.group()[1:-1]], text)


def setup_script(*, wheel: str) -> str:
    """``setup.sh``, installing the wheel ``wheel`` (its file name, beside the script)."""
    if "/" in wheel:
        raise ValueError(f"the wheel's file name, not a path: {wheel!r}")
    return render(SETUP, {"WHEEL": shlex.quote(wheel)})


def limit_option(name: str, value: float) -> str:
    """The ``run`` module's option giving limit ``name`` (a ``Limits`` field) ``value``."""
    number = int(value) if float(value).is_integer() else value
    return f"--limit={name}={number!r}"


def run_script(
    *,
    assignment: str,
    label: str,
    max_score: float,
    sandbox: str,
    limits: Mapping[str, float],
    spec_file: bool = False,
) -> str:
    """``run_autograder``, grading against ``assignment`` with these choices.

    Args:
        assignment: the spec's id (``id@offering``); ignored with ``spec_file``.
        label: how the script and its score-0 results name the assignment.
        max_score: the spec's points, for the score-0 results.json.
        sandbox: a ``grader.gradescope.isolation.CHOICES`` value.
        limits: limit overrides by ``Limits`` field name, in the field's units.
        spec_file: the spec is the zip's ``SPEC_FILE``.
    """
    options = [f"--sandbox={sandbox}", *(limit_option(k, v) for k, v in sorted(limits.items()))]
    return render(
        RUN,
        {
            "LABEL": label.replace("\n", " "),  # in a comment
            "ASSIGNMENT": f'"$ROOT/source/{SPEC_FILE}"' if spec_file else shlex.quote(assignment),
            "ASSIGNMENT_JSON": shlex.quote(json.dumps(label)),
            "MAX_SCORE": json.dumps(float(max_score)),
            "OPTIONS": " ".join(shlex.quote(o) for o in options),
        },
    )
