"""Attacks by student code at import time and inside graded functions (see conftest.py)."""

from __future__ import annotations

import pytest

from tests.hostile.conftest import LEAK, MARK, ROOT

# A daemon that detaches and then lives on as `python -c "...MARK..."` so leftovers are findable.
DAEMON = f'''
import os, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)  # {MARK}"])
    os._exit(0)
'''


def test_infinite_loop_at_import(attack) -> None:
    attack(at_import="while True:\n    pass", expect_in_report="did not finish within")


def test_infinite_loop_in_a_function(attack) -> None:
    doc = attack(in_affine_forward="while True:\n    pass", expect_in_report="did not finish within 3 s")
    statuses = {t["extra_data"]["check_id"]: t["extra_data"]["status"] for t in doc["tests"]}
    assert statuses["affine_forward"] == "timeout"
    assert statuses["relu_forward"] == "passed"  # the other checks still ran


def test_cpu_spin_in_a_background_thread(attack) -> None:
    attack(at_import="import threading\nthreading.Thread(target=lambda: [0 for _ in iter(int, 1)], daemon=True).start()")


def test_memory_bomb(attack) -> None:
    attack(in_affine_forward="blocks = []\nwhile True:\n    blocks.append(bytearray(64 * 1024 * 1024))",
           expect_in_report="memory")


def test_huge_stdout(attack) -> None:
    doc = attack(in_affine_forward="import sys\nfor _ in range(100):\n    sys.stdout.write('x' * (1 << 20))")
    assert all(len(t["output"]) < 64 * 1024 for t in doc["tests"])


def test_huge_returned_array(attack) -> None:
    attack(in_affine_forward="import numpy as np\nreturn np.ones(400 * 1024 * 1024 // 8), None")


@pytest.mark.parametrize("value", ["float('nan') * x.reshape(x.shape[0], -1) @ w", "np.inf + x.reshape(x.shape[0], -1) @ w"])
def test_nan_and_inf(attack, value: str) -> None:
    doc = attack(in_affine_forward=f"import numpy as np\nreturn {value}, None")
    message = next(t["output"] for t in doc["tests"] if t["extra_data"]["check_id"] == "affine_forward")
    assert "NaN" in message or "inf" in message


@pytest.mark.parametrize("value", ["[1, 2, 3]", "{'out': 1}", "None", "'out'",
                                   "np.array([object()] * 3, dtype=object)", "np.zeros((7, 7))"])
def test_wrong_types_and_shapes(attack, value: str) -> None:
    attack(in_affine_forward=f"import numpy as np\nreturn {value}, None")


@pytest.mark.parametrize("code", ["raise RuntimeError('boom at import')", "import sys\nsys.exit(0)",
                                  "import os\nos._exit(0)"])
def test_leaving_at_import(attack, code: str) -> None:
    attack(at_import=code, expect_in_report="cs231n/layers.py")


@pytest.mark.parametrize("code", ["raise RuntimeError('boom in function')", "import sys\nsys.exit(0)",
                                  "import os\nos._exit(0)"])
def test_leaving_inside_a_function(attack, code: str) -> None:
    doc = attack(in_affine_forward=code)
    statuses = {t["extra_data"]["check_id"]: t["extra_data"]["status"] for t in doc["tests"]}
    assert statuses["affine_forward"] == "error" and statuses["relu_forward"] == "passed"


def test_killing_the_parent(attack) -> None:
    attack(in_affine_forward="import os, signal\nos.kill(os.getppid(), signal.SIGKILL)")


def test_killing_the_process_group(attack) -> None:
    attack(in_affine_forward="import os, signal\nos.killpg(0, signal.SIGKILL)")


def test_kill_minus_one(attack) -> None:
    # Safe only because the sandbox runs student code as an unprivileged uid (checked by the
    # module's skip condition: bwrap usable and we are root, so the uid drop happens).
    attack(in_affine_forward="import os, signal\nos.kill(-1, signal.SIGKILL)")


def test_fork_bomb(attack) -> None:
    attack(at_import=f"import os\nfor _ in range(10000):\n    try:\n        os.fork()\n    except OSError:\n        pass\n# {MARK}",
           expect_in_report="")


def test_double_forked_daemon(attack) -> None:
    attack(at_import=DAEMON)


@pytest.mark.parametrize("module", ["reference.layers", "grader", "reference"])
def test_importing_the_grader_or_reference(attack, module: str) -> None:
    attack(at_import=f"try:\n    import {module}\n    print('{LEAK}')\nexcept ImportError:\n    pass")


SEARCH = f'''
import os
hits = []
for top in ("/", "/work", "/root", "/home", "/tmp", {str(ROOT)!r}):
    for dirpath, dirnames, filenames in os.walk(top):
        if dirpath.startswith(("/proc", "/sys", "/usr", "/lib")):
            dirnames[:] = []
            continue
        for name in filenames:
            if name in ("layers.py", "fc_net.py", "cs231n-2021.toml"):
                path = os.path.join(dirpath, name)
                try:
                    text = open(path).read()
                except OSError:
                    continue
                # needles built at run time, so that this file does not match itself
                if "RNG " + "contract" in text or "[[" + "checks]]" in text:
                    hits.append(path)
if hits:
    print("{LEAK}", hits[:3])
'''


def test_searching_the_disk_for_the_reference_and_specs(attack) -> None:
    attack(at_import=SEARCH)


def test_proc_cwd_and_environ(attack) -> None:
    attack(at_import=f'''
import os
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    for entry in ("cwd", "root"):
        try:
            if os.path.exists(os.path.join("/proc", pid, entry, "reference", "layers.py")):
                print("{LEAK}", pid, entry)
        except OSError:
            pass
    try:
        if b"NNGRADER" in open(f"/proc/{{pid}}/environ", "rb").read():
            print("{LEAK}", pid, "environ")
    except OSError:
        pass
''')


def test_writing_outside_and_spawning_a_shell(attack) -> None:
    attack(at_import=f'''
import subprocess
for target in ({str(attack.canary)!r},):
    try:
        open(target, "w").write("pwned")
    except OSError:
        pass
    try:
        subprocess.run(["/bin/sh", "-c", "echo pwned > " + target], timeout=5)
    except Exception:
        pass
''')


def test_connecting_to_a_loopback_listener(attack) -> None:
    attack(at_import=f'''
import socket
try:
    socket.create_connection(("127.0.0.1", {attack.port}), timeout=2)
except OSError:
    pass
''')


def test_printing_a_fake_score_and_results_file(attack) -> None:
    attack(at_import='''
import json, os
fake = json.dumps({"score": 1000, "tests": []})
print(fake)
for folder in ("/autograder/results", os.getcwd(), "/tmp"):
    try:
        os.makedirs(folder, exist_ok=True)
        open(os.path.join(folder, "results.json"), "w").write(fake)
    except OSError:
        pass
''')


@pytest.mark.parametrize("patch", [
    "import numpy as np\nnp.allclose = lambda *a, **k: True\nnp.isclose = lambda a, b, **k: np.ones_like(a, dtype=bool)",
    "import numpy.testing\nnumpy.testing.assert_allclose = lambda *a, **k: None",
    "import builtins\nbuiltins.isinstance = lambda *a: True\nbuiltins.len = lambda x: 2",
    "import numpy as np\nnp.random.seed = lambda *a, **k: None\nnp.random.rand = lambda *s: np.ones(s)",
])
def test_patching_numpy_builtins_and_random(attack, patch: str) -> None:
    attack(at_import=patch)


def test_numpy_shadowing_and_site_hooks(attack) -> None:
    poison = f"open({str(attack.canary)!r}, 'w').write('pwned')\nprint('{LEAK}')\n"
    attack(files={"numpy.py": poison, "cs231n/numpy.py": poison, "sitecustomize.py": poison,
                  "usercustomize.py": poison, "cs231n/sitecustomize.py": poison,
                  "evil.pth": f"import os; open({str(attack.canary)!r}, 'w').write('pwned')\n"})
