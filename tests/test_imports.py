"""The import graph: no circle, layers that import only downwards, no imports by string, no torch where it
is not needed (reports, the fast command line), and no side effects at import.

Every ``import`` statement is read from the source (AST), those inside functions included. Each check is a
function of a source tree, so the planted-violation tests below run it on a copy of this repository with
one bad import added, and see it fail.
"""

import ast
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("models", "harness", "suites", "reports")

# Bottom to top: a module may import modules of its own layer or of a layer below, never above
# (harness/__init__.py says what each holds).
LAYERS = (
    ("models", ("models",)),
    ("base", ("harness", "harness.results", "harness.paths", "harness.provenance", "harness.faults")),
    ("data", ("harness.data",)),
    ("train", ("harness.train",)),
    ("sandbox", ("harness.sandbox",)),
    ("infer", ("harness.infer",)),
    ("interop", ("harness.interop",)),
    ("profiling", ("harness.profiling",)),
    ("suites", ("suites",)),
    ("studies", ("harness.evaluation", "harness.diversity")),
    ("commands", ("harness.commands",)),
    ("verify", ("harness.verify",)),
    ("cli", ("harness.__main__",)),
    ("reports", ("reports",)),
)
BASE = LAYERS[1][1]
STRING_IMPORTS = {"import_module", "__import__", "run_module", "run_path"}


# ---- reading the tree --------------------------------------------------------------------------------
def modules(root: pathlib.Path) -> dict[str, pathlib.Path]:
    """Dotted name → file of every module of ours (``reports/sample`` holds data, not code)."""
    out = {}
    for pkg in PACKAGES:
        for f in (root / pkg).rglob("*.py"):
            rel = f.relative_to(root)
            if "sample" in rel.parts or "__pycache__" in rel.parts:
                continue
            name = ".".join(rel.with_suffix("").parts)
            out[name.removesuffix(".__init__")] = f
    return out


def imported_names(name: str, path: pathlib.Path) -> set[str]:
    """Every module name ``path`` imports anywhere (absolute; relative imports resolved)."""
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            out |= {f"{base}.{a.name}" for a in node.names} | {base}
    return out


def graph(root: pathlib.Path) -> dict[str, set[str]]:
    """Module → the modules of ours it imports (``from pkg import mod``: ``pkg`` and ``pkg.mod``)."""
    mods = modules(root)

    def resolve(n: str) -> str | None:
        while n and n not in mods:
            n = n.rpartition(".")[0]
        return n or None

    # "from harness import faults" imports the package harness (its __init__ runs) and harness.faults
    return {name: {resolve(n) for n in imported_names(name, path)} - {None, name} for name, path in mods.items()}


def layer_of(module: str) -> int:
    best, rank = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, rank = len(p), i
    if rank is None:
        raise AssertionError(f"{module} belongs to no layer: add it to LAYERS")
    return rank


# ---- the checks ----------------------------------------------------------------------------------------
def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), and modules importing themselves."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in edges.get(v, ()):
                out.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    for v in edges:
        if v not in index:
            visit(v)
    return out


def upward_imports(edges: dict[str, set[str]]) -> list[str]:
    """Imports of a module from a higher layer, and the base modules' imports of anything but each other."""
    bad = []
    for a, targets in edges.items():
        for b in targets:
            if layer_of(b) > layer_of(a):
                bad.append(f"{a} ({LAYERS[layer_of(a)][0]}) imports {b} ({LAYERS[layer_of(b)][0]})")
            elif layer_of(a) == 1 and b not in BASE:
                bad.append(f"{a} (base: standard library only) imports {b}")
    return sorted(bad)


def report_imports(root: pathlib.Path) -> list[str]:
    """reports/ reads results through harness.results alone: no torch, models, suites or harness library."""
    bad = []
    for name, path in modules(root).items():
        if not name.startswith("reports"):
            continue
        for n in imported_names(name, path):
            top = n.split(".")[0]
            ours = top == "harness" and n != "harness" and not (n + ".").startswith("harness.results.")
            if top == "torch" or top in ("models", "suites") or ours:
                bad.append(f"{name} imports {n}")
    return sorted(set(bad))


def string_imports(root: pathlib.Path) -> list[str]:
    """Calls that import a module named by a string (importlib.import_module, __import__, runpy)."""
    bad = []
    for name, path in modules(root).items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                f = node.func
                called = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
                if called in STRING_IMPORTS:
                    bad.append(f"{name}:{node.lineno} calls {called}")
    return bad


# ---- the tree as it is ---------------------------------------------------------------------------------
def test_no_import_circle():
    assert circles(graph(ROOT)) == []


def test_layers_import_only_downwards():
    assert upward_imports(graph(ROOT)) == []


def test_no_imports_by_string():
    assert string_imports(ROOT) == []


def test_every_package_says_what_it_holds_and_may_import():
    for init in (ROOT / "harness").glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "May import" in doc, init


def test_no_module_is_named_after_a_standard_library_module():
    clash = [str(f.relative_to(ROOT)) for f in modules(ROOT).values()
             if f.stem in sys.stdlib_module_names and f.stem not in ("__init__", "__main__")]
    assert clash == []


def test_production_code_only_marks_fault_points():
    """One fault mechanism, kept apart: production modules call ``faults.point(...)``; only harness/verify
    installs a handler (that kills or stops the run), and no function takes a ``stop_at`` of its own."""
    for name, path in modules(ROOT).items():
        if name.startswith("harness.verify") or name == "harness.faults":
            continue
        src = path.read_text(encoding="utf-8")
        assert "faults.installed" not in src and "HARNESS_CRASH_AT" not in src, name
        assert "stop_at" not in src.replace("stop_at_eos", ""), name


def test_models_import_only_torch_and_stdlib():
    mods = {n.split(".")[0] for name, f in modules(ROOT).items() if name.startswith("models")
            for n in imported_names(name, f)}
    third_party = mods - set(sys.stdlib_module_names) - {"models", "__future__"}
    assert third_party <= {"torch"}, third_party


def test_reports_read_results_through_harness_results_only():
    assert report_imports(ROOT) == []


def test_harness_results_is_standard_library_only():
    mods = {n.split(".")[0] for n in imported_names("harness.results", ROOT / "harness" / "results.py")}
    assert mods <= set(sys.stdlib_module_names) | {"__future__"}, mods


def _run(code: str, cwd=ROOT) -> subprocess.CompletedProcess:
    env = {**__import__("os").environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env)


def test_importing_reports_does_not_load_torch():
    r = _run("import importlib, pkgutil, sys, reports\n"
             "for m in pkgutil.iter_modules(reports.__path__):\n"
             "    importlib.import_module('reports.' + m.name)\n"
             "print('torch' in sys.modules)")
    assert r.stdout.strip() == "False", r.stderr


@pytest.mark.parametrize("argv", [["--help"], ["ls"], ["train", "--help"],
                                  ["reproduce", "--scale", "tiny", "--seeds", "1", "--dry-run"]])
def test_fast_command_line_does_not_load_torch(argv, tmp_path):
    r = _run("import contextlib, io, sys\nfrom harness.__main__ import main\n"
             f"with contextlib.redirect_stdout(io.StringIO()):\n    try:\n        main({argv!r})\n"
             "    except SystemExit:\n        pass\nprint('torch' in sys.modules, 'numpy' in sys.modules)",
             cwd=tmp_path)
    assert r.stdout.strip() == "False False", r.stderr


def test_importing_every_module_has_no_side_effects(tmp_path):
    """Importing any module writes nothing and configures no logging (checked in a clean cwd)."""
    r = _run("import importlib, pkgutil, logging, os\n"
             "for pkg in ('models', 'harness', 'suites'):\n"
             "    p = importlib.import_module(pkg)\n"
             "    for m in pkgutil.walk_packages(p.__path__, pkg + '.'):\n"
             "        importlib.import_module(m.name)\n"
             "print(len(logging.getLogger().handlers), sorted(os.listdir('.')))", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "0 []"


# ---- planted violations: each check fails on a copy of this tree with one bad import added ----------------
@pytest.fixture
def tree(tmp_path):
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__", "sample"))
    return tmp_path


def _plant(tree: pathlib.Path, module: str, code: str) -> None:
    path = tree / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text() + "\n\n" + code + "\n")


def test_the_copy_is_clean(tree):
    edges = graph(tree)
    assert circles(edges) == [] and upward_imports(edges) == [] and string_imports(tree) == []
    assert report_imports(tree) == []


def test_a_planted_circle_is_found(tree):
    _plant(tree, "harness.train.checkpoint", "def _late():\n    from harness.train import trainer  # noqa")
    found = circles(graph(tree))
    assert found and any({"harness.train.checkpoint", "harness.train.trainer"} <= set(c) for c in found)


def test_a_planted_upward_import_is_found(tree):
    _plant(tree, "harness.data.corpus", "def _late():\n    from harness.commands import train  # noqa")
    bad = upward_imports(graph(tree))
    assert bad == ["harness.data.corpus (data) imports harness.commands (commands)",
                   "harness.data.corpus (data) imports harness.commands.train (commands)"]


def test_a_planted_import_of_the_library_in_base_is_found(tree):
    _plant(tree, "harness.results", "def _late():\n    import harness.train.config  # noqa")
    assert any("harness.results" in b for b in upward_imports(graph(tree)))


def test_a_planted_import_by_string_is_found(tree):
    _plant(tree, "harness.commands.bench", "def _late():\n    import importlib\n"
                                           "    return importlib.import_module('harness.profiling.ffn')")
    assert [b.split(":")[0] for b in string_imports(tree)] == ["harness.commands.bench"]


def test_a_planted_torch_import_in_reports_is_found(tree):
    _plant(tree, "reports.tables", "def _late():\n    import torch  # noqa")
    assert report_imports(tree) == ["reports.tables imports torch"]
