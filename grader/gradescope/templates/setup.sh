#!/usr/bin/env bash
# nngrader on Gradescope, step 1 of 2: written by `nngrader gradescope build` (docs/gradescope.md).
#
# Gradescope runs this once, as root, on its Ubuntu base image while it builds the autograder:
# it installs what nngrader needs (a Python >= 3.10 with venv, bubblewrap, setpriv) with apt-get
# where missing, then nngrader itself from the wheel beside this script, with its dependencies
# from PyPI, into a virtual environment ($NNGRADER_VENV, default /opt/nngrader-venv). Run again,
# it keeps what is in place and reinstalls only the wheel, so the result is the same.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WHEEL="$HERE"/@WHEEL@
VENV="${NNGRADER_VENV:-/opt/nngrader-venv}"

say() { printf 'nngrader setup: %s\n' "$*"; }

# nngrader's requires-python, and the venv module with ensurepip (Debian splits them off).
usable_python() {
    "$1" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1
}

find_python() {
    local candidate
    for candidate in python3 python3.13 python3.12 python3.11 python3.10; do
        if command -v "$candidate" >/dev/null 2>&1 && usable_python "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

venv_ready() {
    "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1
}

missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
if ! venv_ready && ! find_python >/dev/null; then
    missing+=(python3 python3-venv)
    # python3-venv depends on the versioned package only on some releases: name it too.
    if version="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)"; then
        missing+=("python$version-venv")
    fi
fi
if ((${#missing[@]})); then
    if [ "$(id -u)" != 0 ]; then
        say "cannot install ${missing[*]}: apt-get needs root"
        exit 1
    fi
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! venv_ready; then
    if ! python="$(find_python)"; then
        say "no Python >= 3.10 with venv here: choose Gradescope's Ubuntu 22.04 base image or newer"
        exit 1
    fi
    say "creating $VENV with $python"
    "$python" -m venv "$VENV"
fi

pip=("$VENV/bin/python" -m pip --disable-pip-version-check --no-input)
"${pip[@]}" install "$WHEEL"                                # its dependencies, from PyPI
"${pip[@]}" install --no-deps --force-reinstall "$WHEEL"   # this very build, whatever was there
"$VENV/bin/python" -m grader --version

# The fallback runs student code without namespaces (docs/gradescope.md), as an unprivileged uid
# that sees the real filesystem: keep the reference solutions, the course specs and this folder
# (the wheel holds both) readable by root alone. The grader runs as root; the student's process
# needs only numpy (and the runtime packages a spec declares), which stay readable.
site="$("$VENV/bin/python" -c 'import grader, os; print(os.path.dirname(os.path.dirname(grader.__file__)))')"
chmod go= "$site/grader" "$site/reference" "$site/assignments" "$HERE"

# What the sandbox can do in this container, for the build log (run_autograder decides again).
"$VENV/bin/python" -c 'from grader.sandbox import available_modes
problem = available_modes()["bwrap"]
print("nngrader setup: bubblewrap", "works here" if problem is None else "unusable here: " + problem)'
say "done"
