"""Attacks by student code at import time and inside graded functions (see conftest.py).

Attacks inside ``affine_forward`` fire once, in the first check (``affine_forward``); the checks
after it show that grading went on (``keeps_grading``).
"""

from __future__ import annotations

import re
import secrets
import site
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.hostile.conftest import LEAK_PY, NEEDLES, ROOT, SYSTEM_DIRS, Graded, Hostile, py_str

pytestmark = pytest.mark.sandbox

FIRST = "affine_forward"
SITE_DIRS = sorted(
    {
        *site.getsitepackages(),
        sysconfig.get_paths()["purelib"],
        sysconfig.get_paths()["platlib"],
        str(Path(sys.base_prefix) / "lib"),
    }
)
"""The host interpreter's library folders (the sandbox binds the runtime; specs may hide there)."""


def keeps_grading(doc: Graded) -> None:
    """Checks not touched by the attack still ran and scored."""
    assert doc.status("relu_forward") == "passed", doc.message("relu_forward")
    assert doc.status("sgd_momentum") == "passed", doc.message("sgd_momentum")
    assert doc.score > 0


# -- hanging, spinning, exhausting ----------------------------------------------------------------


@pytest.mark.slow
def test_infinite_loop_at_import(hostile: Hostile) -> None:
    doc = hostile.attack(at_import="while True:\n    pass")
    doc.names(FIRST, "importing cs231n/layers.py did not finish within 3 s", status="error")
    assert doc.status("sgd_momentum") == "passed"  # optim.py does not import layers.py


def test_infinite_loop_in_a_function(hostile: Hostile) -> None:
    doc = hostile.attack(in_affine_forward="while True:\n    pass")
    doc.names(FIRST, "did not finish within 3 s (the per-check time limit)", status="timeout")
    keeps_grading(doc)


@pytest.mark.slow
def test_cpu_spin_in_a_background_thread(hostile: Hostile) -> None:
    doc = hostile.attack(
        at_import="import threading\n"
        "threading.Thread(target=lambda: [0 for _ in iter(int, 1)], daemon=True).start()"
    )
    keeps_grading(doc)


def test_memory_bomb(hostile: Hostile) -> None:
    doc = hostile.attack(
        in_affine_forward="blocks = []\nwhile True:\n    blocks.append(bytearray(64 * 1024 * 1024))"
    )
    doc.names(FIRST, "memory limit (768 MiB) exceeded", status="error")
    keeps_grading(doc)


def test_fork_bomb(hostile: Hostile, unprivileged: None) -> None:
    # Every process forks until the cgroup refuses; refused children wait, the parent raises.
    doc = hostile.attack(
        at_import="""
import os, time
_nng_parent = os.getpid()
while True:
    try:
        os.fork()
    except OSError:
        if os.getpid() != _nng_parent:
            time.sleep(60)
            os._exit(0)
        raise
"""
    )
    doc.names_any(
        FIRST, "process limit (32) reached", "BlockingIOError", "Resource temporarily unavailable"
    )
    assert doc.status(FIRST) == "error"
    assert doc.status("sgd_momentum") == "passed"


def test_100_mb_of_stdout(hostile: Hostile) -> None:
    doc = hostile.attack(
        in_affine_forward="import sys\nfor _ in range(100):\n    sys.stdout.write('x' * (1 << 20))"
    )
    doc.names(
        FIRST,
        "file size limit (32 MiB, printed output included) exceeded",
        "[... output truncated ...]",
    )
    assert all(len(t["output"]) < 32 * 1024 for t in doc.doc["tests"]), (
        "printed output kept beyond output_bytes"
    )
    assert len(doc.log.encode()) <= 1024 * 1024 + 64, "output.txt is not bounded"
    keeps_grading(doc)


def test_huge_returned_array(hostile: Hostile) -> None:
    # 272 MiB crosses the 256 MiB result limit; the child needs ~3 copies to send it.
    doc = hostile.attack(
        in_affine_forward="import numpy as np\nreturn np.ones(272 * 1024 * 1024 // 8), None",
        limits={"memory_bytes": 2 * 1024**3},
    )
    doc.names(FIRST, "272.0 MiB", "256 MiB limit", status="error")
    keeps_grading(doc)


# -- returning garbage ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("float('nan') * x.reshape(x.shape[0], -1) @ w", "NaN"),
        ("np.inf + x.reshape(x.shape[0], -1) @ w", "inf"),
    ],
)
def test_nan_and_inf(hostile: Hostile, value: str, found: str) -> None:
    doc = hostile.attack(in_affine_forward=f"import numpy as np\nreturn {value}, None")
    doc.names(FIRST, f"student output has {found} at index", status="failed")
    keeps_grading(doc)


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("[1, 2, 3]", "expected shape (2, 3), got (3,)"),
        ("{'out': 1}", "expected an array of shape (2, 3), got dict"),
        ("None", "expected an array of shape (2, 3), got None"),
        ("'out'", "expected an array of shape (2, 3), got str"),
        ("np.array([object()] * 3, dtype=object)", "dtype object"),
        ("np.zeros((7, 7))", "expected shape (2, 3), got (7, 7)"),
    ],
    ids=["list", "dict", "None", "str", "object-array", "shape"],
)
def test_wrong_types_and_shapes(hostile: Hostile, value: str, said: str) -> None:
    doc = hostile.attack(in_affine_forward=f"import numpy as np\nreturn {value}, None")
    doc.names(FIRST, said)
    assert doc.status(FIRST) in ("failed", "error")
    keeps_grading(doc)


# -- leaving ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "said"),
    [
        (
            "raise RuntimeError('boom at import')",
            ["blocked: `cs231n/layers.py` does not import (see above)"],
        ),
        ("import sys\nsys.exit(0)", ["blocked: `cs231n/layers.py` does not import (see above)"]),
        (
            "import os\nos._exit(0)",
            ["importing cs231n/layers.py stopped the process", "exited with code 0"],
        ),
    ],
    ids=["raise", "sys.exit", "os._exit"],
)
def test_leaving_at_import(hostile: Hostile, code: str, said: list[str]) -> None:
    doc = hostile.attack(at_import=code)
    doc.names(FIRST, *said, status="error")
    doc.names("relu_forward", *said, status="error")  # every check needing the module says why
    if "blocked" in said[0]:  # the failure itself is said once, for the submission
        assert doc.doc["output"].count("`cs231n/layers.py` does not import:") == 1
    assert doc.status("sgd_momentum") == "passed"


@pytest.mark.parametrize(
    ("code", "said"),
    [
        ("raise RuntimeError('boom in function')", "raised RuntimeError: boom in function"),
        ("import sys\nsys.exit(0)", "raised SystemExit"),
        ("import os\nos._exit(0)", "exited with code 0"),
    ],
    ids=["raise", "sys.exit", "os._exit"],
)
def test_leaving_inside_a_function(hostile: Hostile, code: str, said: str) -> None:
    doc = hostile.attack(in_affine_forward=code)
    doc.names(FIRST, said, status="error")
    keeps_grading(doc)


# -- killing ---------------------------------------------------------------------------------------


# bwrap reports the SIGKILL of the process it runs as exit code 128 + 9.
KILLED = ("killed by signal 9", "exited with code 137")


def test_killing_the_parent(hostile: Hostile) -> None:
    doc = hostile.attack(
        in_affine_forward="import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"
    )
    doc.names_any(FIRST, "PermissionError", "killed by signal", "exited with code")
    assert doc.status(FIRST) == "error"
    keeps_grading(doc)


def test_killing_the_process_group(hostile: Hostile) -> None:
    doc = hostile.attack(in_affine_forward="import os, signal\nos.killpg(0, signal.SIGKILL)")
    doc.names_any(FIRST, *KILLED)
    assert doc.status(FIRST) == "error"
    keeps_grading(doc)


def test_kill_minus_one(hostile: Hostile, unprivileged: None) -> None:
    # kill(-1) spares the caller, so the check itself survives; the bystander of ``hostile``
    # and the grader must survive too. A second round from a grandchild kills the child as well.
    doc = hostile.attack(
        in_affine_forward="""
import os, signal, time
if os.fork() == 0:
    os.kill(-1, signal.SIGKILL)
    os._exit(0)
time.sleep(5)
"""
    )
    doc.names_any(FIRST, *KILLED)
    assert doc.status(FIRST) == "error"
    keeps_grading(doc)


DAEMON = """
import os, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)"])
    os._exit(0)
"""


def test_double_forked_daemon(hostile: Hostile) -> None:
    keeps_grading(hostile.attack(at_import=DAEMON))  # the fixture finds the daemon if it survives


# -- reaching the grader's code, the reference, the specs ------------------------------------------


IMPORT = f"""
import glob, importlib, os, sys
_nng_found = []
# The editable install's finder maps grader/reference/assignments to the checkout (site is off).
for _nng_dir in [*sys.path, *{SITE_DIRS!r}]:
    for _nng_path in glob.glob(os.path.join(_nng_dir, "__editable__*finder*.py")):
        try:
            _nng_ns = {{"__name__": "_nng_finder"}}
            exec(open(_nng_path).read(), _nng_ns)
            _nng_ns["install"]()
        except BaseException as _nng_exc:
            print("NNG-IMPORT finder", _nng_path, type(_nng_exc).__name__)
    for _nng_path in glob.glob(os.path.join(_nng_dir, "*.pth")):
        try:
            with open(_nng_path) as _nng_f:
                sys.path += [ln.strip() for ln in _nng_f if ln.strip() and ln[:6] != "import"]
        except OSError:
            pass
try:
    _nng_module = importlib.import_module(MODULE)
    _nng_found.append(MODULE)
except BaseException as _nng_exc:
    print("NNG-IMPORT refused", MODULE, type(_nng_exc).__name__)
else:
    # With the reference in reach, take its answers: the score would go up.
    _nng_ref = sys.modules.get("reference.layers") or importlib.import_module("reference.layers")
    softmax_loss = _nng_ref.softmax_loss
if _nng_found:
    print({LEAK_PY}, _nng_found)
print("NNG-IMPORT-DONE")
"""


@pytest.mark.parametrize("module", ["grader", "reference", "reference.layers", "assignments"])
def test_importing_the_grader_or_reference(hostile: Hostile, module: str) -> None:
    doc = hostile.attack(at_end=IMPORT.replace("MODULE", repr(module)))
    assert "NNG-IMPORT-DONE" in doc.log
    assert f"NNG-IMPORT refused {module}" in doc.log
    doc.names("softmax_loss", status="failed")  # the student's own (wrong) softmax_loss was graded


SEARCH = f"""
import os
_nng_needles = [{", ".join(py_str(n) for n in NEEDLES)}]
_nng_tops = ["/", "/work", "/root", "/home", "/tmp", "/run", {str(ROOT)!r}, *{SITE_DIRS!r}]
_nng_tops += [os.path.join("/proc", p, "cwd") for p in os.listdir("/proc") if p.isdigit()]
_nng_system = set({SYSTEM_DIRS!r})
_nng_names = {{"layers.py", "layer_utils.py", "fc_net.py", "optim.py", "fixtures.py"}}
_nng_places = ("reference", "assignments")
_nng_seen, _nng_hits, _nng_files, _nng_read, _nng_capped = set(), [], 0, 0, False
for _nng_top in _nng_tops:
    for _nng_dir, _nng_subdirs, _nng_filenames in os.walk(_nng_top):
        _nng_real = os.path.realpath(_nng_dir)
        if _nng_real in _nng_seen or _nng_capped:
            _nng_subdirs[:] = []
            continue
        _nng_seen.add(_nng_real)
        _nng_subdirs[:] = [d for d in _nng_subdirs if os.path.join(_nng_dir, d) not in _nng_system]
        for _nng_name in _nng_filenames:
            _nng_files += 1
            if _nng_files > 400_000:
                _nng_capped = True
                break
            _nng_path = os.path.join(_nng_dir, _nng_name)
            if not (_nng_name in _nng_names or _nng_name.endswith((".toml", ".pth", ".md"))
                    or _nng_name.startswith("__editable__")
                    or any(p in _nng_path for p in _nng_places)):
                continue
            try:
                with open(_nng_path, errors="replace") as _nng_f:
                    _nng_text = _nng_f.read(1 << 20)
            except OSError:
                continue
            _nng_read += 1
            _nng_hits += [(_nng_path, n) for n in _nng_needles if n in _nng_text]
if _nng_hits:
    print({LEAK_PY}, _nng_hits[:5])
print(f"NNG-SEARCH-DONE files={{_nng_files}} read={{_nng_read}} capped={{_nng_capped}}")
"""


def test_searching_the_disk_for_the_reference_and_specs(hostile: Hostile) -> None:
    doc = hostile.attack(at_import=SEARCH, limits={"check_seconds": 30.0})
    done = re.search(r"NNG-SEARCH-DONE files=(\d+) read=(\d+) capped=(\w+)", doc.log)
    assert done, f"the search did not finish: {doc.message(FIRST)[:500]!r}"
    assert int(done[1]) > 1000 and int(done[2]) > 0 and done[3] == "False", done[0]
    for needle in NEEDLES:
        assert needle not in doc.everything
    keeps_grading(doc)


def test_proc_environ_cmdline_and_cwd(hostile: Hostile, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "NNG-SECRET-" + secrets.token_hex(12)
    monkeypatch.setenv("NNGRADER_HOSTILE_SECRET", secret)  # in the grading process's environment
    doc = hostile.attack(
        at_import=f"""
import os
_nng_secret, _nng_checkout = {py_str(secret)}, {py_str(str(ROOT))}
_nng_found, _nng_pids = [], [p for p in os.listdir("/proc") if p.isdigit()]
for _nng_pid in [*_nng_pids, "self"]:
    for _nng_entry in ("environ", "cmdline"):
        try:
            with open(f"/proc/{{_nng_pid}}/{{_nng_entry}}", "rb") as _nng_f:
                _nng_text = _nng_f.read().decode(errors="replace")
        except OSError:
            continue
        if _nng_secret in _nng_text or _nng_checkout in _nng_text:
            _nng_found.append((_nng_pid, _nng_entry, _nng_text[:2000]))
    try:
        _nng_cwd = os.readlink(f"/proc/{{_nng_pid}}/cwd")
        _nng_listing = os.listdir(f"/proc/{{_nng_pid}}/cwd")
    except OSError:
        continue
    if _nng_cwd.startswith(_nng_checkout) or {{"reference", "assignments"}} & set(_nng_listing):
        _nng_found.append((_nng_pid, "cwd", _nng_cwd, _nng_listing))
if _nng_found:
    print({LEAK_PY}, _nng_found)
print("NNG-PROC-DONE", len(_nng_pids))
"""
    )
    assert "NNG-PROC-DONE" in doc.log
    assert secret not in doc.everything
    keeps_grading(doc)


# -- reaching outside ------------------------------------------------------------------------------


def test_writing_outside_and_spawning_a_shell(hostile: Hostile) -> None:
    doc = hostile.attack(
        at_import=f"""
import subprocess
_nng_target = {str(hostile.canary)!r}
try:
    open(_nng_target, "w").write("pwned")
except OSError:
    pass
subprocess.run(["/bin/sh", "-c", "echo NNG-SHELL-RAN; echo pwned > " + _nng_target], timeout=5)
"""
    )
    assert "NNG-SHELL-RAN" in doc.log  # the shell did run; the fixture checks the canary
    keeps_grading(doc)


def test_connecting_to_a_loopback_listener(hostile: Hostile) -> None:
    doc = hostile.attack(
        at_import=f"""
import socket
try:
    socket.create_connection(("127.0.0.1", {hostile.port}), timeout=2)
    print("NNG-CONNECT connected")
except OSError as _nng_exc:
    print("NNG-CONNECT refused", type(_nng_exc).__name__)
"""
    )
    assert "NNG-CONNECT refused" in doc.log
    keeps_grading(doc)


def test_printing_a_fake_score_and_results_file(hostile: Hostile) -> None:
    doc = hostile.attack(
        at_import="""
import json, os
fake = json.dumps({"score": 1000, "max_score": 1000, "tests": []})
print(fake)
here = os.path.dirname(os.path.abspath(__file__))
for folder in ("/autograder/results", os.getcwd(), "/tmp", here):
    try:
        os.makedirs(folder, exist_ok=True)
        open(os.path.join(folder, "results.json"), "w").write(fake)
    except OSError:
        pass
"""
    )
    assert doc.doc["output"].startswith(f"{doc.score:g} / ")
    keeps_grading(doc)


# -- patching what judges --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "patch",
    [
        "import numpy as np\nnp.allclose = lambda *a, **k: True\n"
        "np.isclose = lambda a, b, **k: np.ones_like(a, dtype=bool)",
        "import numpy.testing\nnumpy.testing.assert_allclose = lambda *a, **k: None",
        "import builtins\nbuiltins.isinstance = lambda *a: True\nbuiltins.len = lambda x: 2",
        "import numpy as np\nnp.random.seed = lambda *a, **k: None\n"
        "np.random.rand = lambda *s: np.ones(s)",
    ],
    ids=["allclose", "testing", "builtins", "random"],
)
def test_patching_numpy_builtins_and_random(hostile: Hostile, patch: str) -> None:
    hostile.attack(at_import=patch)


def test_numpy_shadowing_and_site_hooks(hostile: Hostile) -> None:
    poison = f"open({str(hostile.canary)!r}, 'w').write('pwned')\nprint{LEAK_PY}\n"
    doc = hostile.attack(
        files={
            "numpy.py": poison,
            "cs231n/numpy.py": poison,
            "sitecustomize.py": poison,
            "usercustomize.py": poison,
            "cs231n/sitecustomize.py": poison,
            "evil.pth": f"import os; open({str(hostile.canary)!r}, 'w').write('pwned')\n",
        }
    )
    keeps_grading(doc)


HARNESS = '''
import sys
_nng_h = sys.modules["nngrader_child.harness"]
_nng_serve = sys._getframe()
while _nng_serve is not None and _nng_serve.f_code.co_name != "serve":
    _nng_serve = _nng_serve.f_back
_nng_ops = _nng_serve.f_locals["ops"] if _nng_serve is not None else {}
_nng_self = _nng_serve.f_locals.get("harness") if _nng_serve is not None else None


def _nng_patch(name, fn):
    """Replace an op on the class and in the running request loop."""
    setattr(_nng_h.Harness, "op_" + name, fn)
    if _nng_self is not None:
        _nng_ops[name] = fn.__get__(_nng_self)
    print("NNG-HARNESS patched", name)
'''

HARNESS_PATCHES = {
    # numgrad answers with the student's own dx: the wrong softmax_loss looks self-consistent.
    "numgrad": """
_nng_numgrad = _nng_h.Harness.op_numgrad
def _nng_fake_numgrad(self, req):
    fn = self.target(req["fn"])
    if getattr(fn, "__name__", "") == "softmax_loss":
        return _nng_h.np.asarray(fn(*req["args"])[1], dtype=float)
    return _nng_numgrad(self, req)
_nng_patch("numgrad", _nng_fake_numgrad)
""",
    "dropout": """
_nng_patch("dropout_calls", lambda self, req: 2)
_nng_patch("dropout", lambda self, req: {"patched": 2})
""",
    # Replies claim success (errors become ok) and non-finite floats are hidden as 0.
    "encoder": """
_nng_p = _nng_h.protocol
_nng_write = _nng_p.write_frame
def _nng_forge(fd, header, arrays):
    if not header.get("ok"):
        header = {"id": header.get("id"), "ok": True, "value": None}
    header = dict(header)
    header.update(score=1000, passed=True, status="passed")
    _nng_write(fd, header, arrays)
class _NngEncoder(_nng_p.Encoder):
    def encode(self, value):
        if isinstance(value, float) and value != value:
            value = 0.0
        return super().encode(value)
_nng_p.write_frame = _nng_forge
_nng_p.Encoder = _NngEncoder
print("NNG-HARNESS patched encoder")
""",
}


@pytest.mark.parametrize("part", sorted(HARNESS_PATCHES))
def test_monkeypatching_the_harness(hostile: Hostile, part: str) -> None:
    doc = hostile.attack(at_end=HARNESS + HARNESS_PATCHES[part])
    assert "NNG-HARNESS patched" in doc.log  # the patch did happen
    assert doc.status("softmax_loss") != "passed"
    if part == "numgrad":  # the forged numeric gradient agrees, but earns nothing
        assert doc.status("softmax_loss_numeric") == "passed"
        assert doc.test("softmax_loss_numeric")["score"] == 0


FORGE = """
import io, json, os, pickle, sys, zipfile
import numpy as np
from nngrader_child import protocol as _p
_fd = int(sys.argv[2])  # the result pipe
_f = sys._getframe()
while _f is not None and not (_f.f_code.co_name == "serve" and "header" in _f.f_locals):
    _f = _f.f_back
_rid = _f.f_locals["header"]["id"]  # the request being answered
_claim = {"ok": True, "value": {"$t": [{"$a": "a0"}, None]}, "score": 1000, "max_score": 1000,
          "passed": True, "status": "passed"}


def _send(header, payload=b"", head_len=None):
    head = json.dumps(header).encode()
    data = _p.MAGIC + (len(head) if head_len is None else head_len).to_bytes(8, "big") + head
    data += len(payload).to_bytes(8, "big") + payload
    while data:
        data = data[os.write(_fd, data):]


def _npy(descr, shape, body):
    head = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    head += b" " * (63 - (len(head) + 10) % 64) + b"\\n"
    return b"\\x93NUMPY\\x01\\x00" + len(head).to_bytes(2, "little") + head + body


def _npz(members, compression=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name + ".npy", data)
    return buf.getvalue()


def _savez(save, **arrays):
    buf = io.BytesIO()
    save(buf, **arrays)
    return buf.getvalue()


print("NNG-FORGE", _rid)
"""

FORGERIES = {
    # Well-formed frames claiming success, for this request and the next ones.
    "success": """
for _i in range(_rid, _rid + 20):
    _send({**_claim, "id": _i}, _savez(np.savez, a0=np.zeros((x.shape[0], w.shape[1]))))
""",
    # A compressed member that expands to 128 MiB in the grader.
    "compressed": """
_send({**_claim, "id": _rid}, _savez(np.savez_compressed, a0=np.zeros(1 << 24)))
""",
    # An object array whose pickle would run a shell command in the grader.
    "object-dtype": """
class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > CANARY",))
_send({**_claim, "id": _rid}, _npz({"a0": _npy("|O", (1,), pickle.dumps([_Evil()]))}))
""",
    # An array header claiming 1 GiB of data that is not there.
    "lying-array-header": """
_send({**_claim, "id": _rid}, _npz({"a0": _npy("<f8", (1 << 27,), bytes(48))}))
""",
    # A frame header whose length field is shorter than the header.
    "lying-frame-header": """
_send({**_claim, "id": _rid}, _savez(np.savez, a0=np.zeros((2, 3))), head_len=7)
""",
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_forging_frames_on_the_result_pipe(hostile: Hostile, forgery: str) -> None:
    code = FORGE + FORGERIES[forgery].replace("CANARY", str(hostile.canary))
    doc = hostile.attack(in_affine_forward=code)
    assert "NNG-FORGE" in doc.log  # the attack found the request id and wrote
    assert doc.status(FIRST) != "passed", doc.message(FIRST)
    if forgery == "success":  # answers to requests not yet asked are judged like any answer
        assert any("channel" in t["output"] or "protocol" in t["output"] for t in doc.doc["tests"])
    else:
        doc.names_any(FIRST, "protocol", "refused")
        assert doc.status(FIRST) == "error", doc.message(FIRST)
        keeps_grading(doc)
