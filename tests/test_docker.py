"""The Docker image (``Dockerfile``, docs/docker.md): built from this tree, it grades the bundled
correct cs231n-2021 submission with bubblewrap isolation, with no network, and scores it as the
host does.

The container gets what the README's "Grading with Docker" command gives it (``PRIVILEGES``, why
each one: docs/docker.md) and the same memory, CPU and process limits. It runs as root and gets no
writable cgroup hierarchy (Docker mounts cgroup v1 read-only, and cgroup v2 has no v1 hierarchy),
so every report must say that memory and processes fell back to rlimits.

Skipped when no Docker engine answers; with ``NNGRADER_REQUIRE_DOCKER=1`` (``.ci/run``, which
starts one) that fails instead. ``NNGRADER_DOCKER`` names the client (default ``docker``): the
build needs BuildKit, which Docker 23 and later clients get from the buildx plugin, and Debian's
20.10 client has built in.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, NoReturn

import pytest

from grader.sandbox.uids import LOCK_DIR
from tests.bundled import EXAMPLES, ROOT, BundledResults

pytestmark = [pytest.mark.docker, pytest.mark.slow]

REQUIRE = "NNGRADER_REQUIRE_DOCKER"
CLIENT = os.environ.get("NNGRADER_DOCKER", "docker")
IMAGE = "nngrader-test"
COURSE, NAME = "cs231n-2021", "correct"
PRIVILEGES = (
    "--cap-add", "SYS_ADMIN",  # bwrap, started by root, makes namespaces and mounts
    "--cap-add", "NET_ADMIN",  # bwrap brings up the loopback device of its network namespace
    "--security-opt", "seccomp=unconfined",  # Docker's profile refuses pivot_root to everyone
    "--security-opt", "apparmor=unconfined",  # docker-default forbids mount
)  # fmt: skip
LIMITS = ("--memory", "4g", "--cpus", "1", "--pids-limit", "512")
# Hang guards, not measurements: a cold build downloads the dependencies (about 40 s here).
ENGINE_SECONDS, BUILD_SECONDS, RUN_SECONDS = 60.0, 1800.0, 600.0


def _unusable(reason: str) -> NoReturn:
    """Skip, or fail when the run requires Docker (CI)."""
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{REQUIRE}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def docker() -> str:
    """The Docker client, once an engine answers it."""
    exe = shutil.which(CLIENT)
    if exe is None:
        _unusable(f"there is no Docker client ({CLIENT}) on PATH")
    try:
        info = subprocess.run(
            [exe, "info"], capture_output=True, text=True, timeout=ENGINE_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        _unusable(f"the Docker engine did not answer `{CLIENT} info` in {ENGINE_SECONDS:.0f} s")
    if info.returncode != 0:
        _unusable(f"no Docker engine answers `{CLIENT} info`: {info.stderr.strip()[-300:]}")
    problem = _buildkit_problem(exe)
    if problem:
        _unusable(problem)
    return exe


def _buildkit_problem(exe: str) -> str | None:
    """Why this client cannot build with BuildKit (the Dockerfile's secret and bind mounts need
    it), or None: clients from Docker 23 on build with it only through the buildx plugin."""
    version = subprocess.run(
        [exe, "version", "--format", "{{.Client.Version}}"],
        capture_output=True,
        text=True,
        timeout=ENGINE_SECONDS,
        check=False,
    ).stdout.strip()
    major = version.split(".", 1)[0]
    if not major.isdigit() or int(major) < 23:
        return None
    buildx = subprocess.run(
        [exe, "buildx", "version"], capture_output=True, timeout=ENGINE_SECONDS, check=False
    )
    if buildx.returncode == 0:
        return None
    return (
        f"the Docker client {exe} ({version}) builds with BuildKit only through the buildx "
        "plugin, which is missing: install it, or set NNGRADER_DOCKER to a client with BuildKit "
        "built in (Debian's docker.io)"
    )


def _ca_bundle() -> Path | None:
    """The host's CA bundle, given to the build as the ``cacert`` secret (the package index may
    be reached through a proxy whose CA only the host trusts; elsewhere it is the usual bundle)."""
    for name in (os.environ.get("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt"):
        if name and Path(name).is_file():
            return Path(name)
    return None


@pytest.fixture(scope="module")
def image(docker: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The image built from this tree, as the README says (layers cached between runs)."""
    command = [docker, "build", "--network", "host", "-t", IMAGE]
    ca = _ca_bundle()
    if ca is not None:
        command += ["--secret", f"id=cacert,src={ca}"]
    log = tmp_path_factory.mktemp("docker") / "build.log"
    with log.open("wb") as out:
        built = subprocess.run(
            [*command, str(ROOT)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "DOCKER_BUILDKIT": "1"},
            timeout=BUILD_SECONDS,
            check=False,
        )
    assert built.returncode == 0, f"docker build failed:\n{log.read_text(errors='replace')[-4000:]}"
    return IMAGE


def _shared_locks() -> list[str]:
    """Mount the host's sandbox-uid locks into the container.

    Docker does not remap users by default, so the container's sandbox uids (61000 and up) are the
    host's: without the shared locks a grader on the host (another test run) and the one in the
    container claim the same uid, and each one's sweep kills the other's student processes (seen
    here: random checks of the correct submission died with SIGKILL). Only as root: the container's
    root refuses a lock folder that another uid owns.
    """
    if os.geteuid() != 0:
        return []
    LOCK_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    return ["-v", f"{LOCK_DIR}:/run/nngrader"]


def _grade(docker: str, out: Path, *options: str, sandbox: str) -> subprocess.CompletedProcess[str]:
    """``nngrader grade`` of the bundled submission in a fresh container with no network."""
    submission = EXAMPLES / COURSE / NAME
    command = [docker, "run", "--rm", "--network", "none", *options]
    command += ["-v", f"{submission}:/subs/{NAME}:ro", "-v", f"{out}:/out", IMAGE]
    command += ["grade", f"/subs/{NAME}", "--assignment", COURSE, "--sandbox", sandbox]
    return subprocess.run(
        [*command, "--out", "/out"],
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
        check=False,
    )


def _points(results: dict[str, Any]) -> dict[str, float]:
    return {test["name"]: test["score"] for test in results["tests"]}


def test_grades_with_bwrap_in_the_container_as_on_the_host(
    docker: str, image: str, tmp_path: Path, bundled_results: BundledResults
) -> None:
    done = _grade(docker, tmp_path, *LIMITS, *PRIVILEGES, *_shared_locks(), sandbox="bwrap")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    results = json.loads((tmp_path / NAME / "results.json").read_text(encoding="utf-8"))
    extra = results["extra_data"]
    assert extra["isolation"] == "bwrap"
    # Full marks, check by check as in-process grading on the host gives them.
    host = bundled_results[f"{COURSE}/{NAME}"]
    assert results["score"] == extra["max_score"] == host["score"]
    assert _points(results) == _points(host)
    # Root in the container (the uid drop works), but no writable cgroup: the report names the
    # limits that fell back to rlimits.
    notes = extra["notes"]
    assert not [note for note in notes if "not running as root" in note], notes
    fallback = [note for note in notes if "cgroup" in note]
    assert len(fallback) == 1, notes
    assert "memory" in fallback[0] and "RLIMIT_AS" in fallback[0], notes
    assert "processes" in fallback[0] and "RLIMIT_NPROC" in fallback[0], notes


def test_without_the_privileges_isolation_is_refused(
    docker: str, image: str, tmp_path: Path
) -> None:
    # Docker's defaults leave bwrap no way to make namespaces; `auto` must then refuse (exit 3,
    # setup), never grade the submission without isolation.
    done = _grade(docker, tmp_path, sandbox="auto")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "cannot isolate student code" in done.stderr
    assert not list(tmp_path.iterdir())


def test_the_entrypoint_is_nngrader(docker: str, image: str) -> None:
    done = subprocess.run(
        [docker, "run", "--rm", "--network", "none", image, "--version"],
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("nngrader "), done.stdout
