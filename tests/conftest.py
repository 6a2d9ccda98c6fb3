"""Test-run wide hooks: ``sandbox``-marked tests fail instead of skipping when CI requires it,
every written results.json and instructor.json is validated against its schema, and each run
keeps its temporary files in a folder of its own.

With ``NNGRADER_REQUIRE_SANDBOX=1`` (set by ``.ci/run``) a ``sandbox``-marked test fails, naming
the problem, when bubblewrap, root or the cgroup v1 pids/memory hierarchy is unusable: a CI
machine that silently lost its sandbox must not pass.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from grader.report.validate import VALIDATE_ENV
from tests.bundled import BundledResults
from tests.sandbox_support import REQUIRE_VARIABLE, REQUIRED, sandbox_problems

# Every results.json and instructor.json any test writes (here or in a child nngrader, which
# inherits the environment) is validated against its schema by the render stage.
os.environ[VALIDATE_ENV] = "1"


_OWN_ROOT = "_nngrader_temporary_root"


@pytest.hookimpl(tryfirst=True)  # before the tmp_path plugin reads --basetemp
def pytest_configure(config: pytest.Config) -> None:
    """Without ``--basetemp``, this run's temporary files go to a new private folder, not
    pytest's shared ``/tmp/pytest-of-<user>``: every pytest that starts makes that folder 0700
    again, taking away the search permission the sandbox granted its uid on the way to a running
    test's files (``grader.sandbox.access.grant_search``), so a test grading at that moment
    failed at import. Removed after a run that passed; kept, and named, after one that failed."""
    if config.option.basetemp is None:
        root = Path(tempfile.mkdtemp(prefix="nngrader-tests-"))
        config.option.basetemp = str(root / "tmp")
        setattr(config, _OWN_ROOT, root)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    root = getattr(session.config, _OWN_ROOT, None)
    if root is None:
        return
    if exitstatus == 0:
        shutil.rmtree(root, ignore_errors=True)
    else:
        session.config.get_terminal_writer().line(f"temporary files kept in {root}")


@pytest.hookimpl(tryfirst=True)  # before the skipif marks are evaluated
def pytest_runtest_setup(item: pytest.Item) -> None:
    if REQUIRED and item.get_closest_marker("sandbox") is not None:
        problems = sandbox_problems()
        if problems:
            pytest.fail(
                f"{REQUIRE_VARIABLE}=1 but the sandbox is unusable here: {'; '.join(problems)}",
                pytrace=False,
            )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite the golden files (tests/goldens/) from this run's output instead of "
        "comparing against them",
    )


@pytest.fixture(scope="session")
def update_goldens(request: pytest.FixtureRequest) -> bool:
    """Whether this run refreshes the goldens (``--update-goldens``)."""
    return bool(request.config.getoption("--update-goldens"))


@pytest.fixture(scope="session")
def bundled_results(tmp_path_factory: pytest.TempPathFactory) -> BundledResults:
    """Every bundled example's ``results.json`` (``bundled_results[name]``) and
    ``SubmissionResult`` (``bundled_results.result(name)``), each graded at most once per session,
    on first use (``tests/bundled.py``)."""
    return BundledResults(tmp_path_factory.mktemp("bundled"))
