# nngrader in a container: `docker run ... nngrader grade /subs --out /out` (README, "Grading with
# Docker"; every choice below is explained in docs/docker.md).
#
# Privileges: the grader runs as root inside the container (no USER line, on purpose). As root it
# drops each submission's code to a sandbox uid of its own (grader/sandbox/uids.py), so student
# code that got out of bwrap still could not touch the grader, its output or other submissions,
# and it mounts a size-limited tmpfs on the submission's scratch folder. bwrap started by root
# makes its namespaces without a user namespace, which needs `docker run --cap-add SYS_ADMIN
# --cap-add NET_ADMIN --security-opt seccomp=unconfined` (Docker's seccomp profile refuses
# pivot_root even with CAP_SYS_ADMIN), plus `--security-opt apparmor=unconfined` where AppArmor
# runs. A non-root user would need the same seccomp change and an unmasked /proc, and would lose
# the uid drop and the process limit.
FROM debian:bookworm-slim

# bubblewrap isolates student code, setpriv (util-linux) drops it to the sandbox uid inside
# bwrap; Debian's Python with venv, so that pip installs the dependencies into a folder of their
# own (Debian's python3 refuses `pip install` into the system, PEP 668). DL3008 (pin apt
# versions) is ignored: Debian's archive serves only the current version of a stable release's
# package, so a pinned version stops installing at its next point release; the release
# (bookworm, in FROM) is the pin.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap util-linux python3 python3-venv \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*

ENV VIRTUAL_ENV=/opt/nngrader \
    PATH=/opt/nngrader/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The dependencies first, read from pyproject.toml alone (its build requirements, `dependencies`
# and the `courses` extra, which UCLA's given code needs in the sandbox): this layer is rebuilt
# only when pyproject.toml changes, not at every change of the source. The versions are the
# newest pyproject allows, as in `.ci/run`; no lock file is kept. The package index may be reached
# through a proxy with a CA of its own, given as the optional build secret `cacert`.
RUN --mount=type=bind,source=pyproject.toml,target=/tmp/pyproject.toml \
    --mount=type=secret,id=cacert,required=false \
    if [ -f /run/secrets/cacert ]; then export PIP_CERT=/run/secrets/cacert; fi \
    && python3 -m venv "$VIRTUAL_ENV" \
    && python3 -c 'import tomllib; p = tomllib.load(open("/tmp/pyproject.toml", "rb")); print(*p["build-system"]["requires"], *p["project"]["dependencies"], *p["project"]["optional-dependencies"]["courses"], sep="\n")' > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then nngrader itself, from the build context bound for this step only (rw: the build's
# scratch files are discarded), so that no copy of the source stays in a layer. The build
# backend is the setuptools installed above, so this step needs no network. matplotlib's font
# list is made once here rather than at the start of every container (the reports' plots).
RUN --mount=type=bind,source=.,target=/src,rw \
    pip install --no-cache-dir --no-deps --no-build-isolation /src \
    && python3 -c "import matplotlib.font_manager"

ENTRYPOINT ["nngrader"]
CMD ["--help"]
