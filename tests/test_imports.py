"""Import direction (design.md): models → torch only; reports never import torch; imports do nothing."""

import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
OURS = {"models", "harness", "suites", "reports"}


def imported_top_modules(pkg: str) -> set[str]:
    mods = set()
    for f in (ROOT / pkg).rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                mods |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods.add(node.module.split(".")[0])
    return mods


def test_models_import_only_torch_and_stdlib():
    mods = imported_top_modules("models")
    assert not (mods & (OURS - {"models"})), mods
    third_party = mods - set(sys.stdlib_module_names) - {"models", "__future__"}
    assert third_party <= {"torch"}, third_party


def test_reports_never_import_torch_or_harness_core():
    mods = imported_top_modules("reports")
    assert "torch" not in mods and "models" not in mods and "suites" not in mods


def test_harness_does_not_import_reports():
    assert "reports" not in imported_top_modules("harness")


def test_importing_reports_does_not_load_torch():
    code = ("import importlib, pkgutil, sys, reports\n"
            "for m in pkgutil.iter_modules(reports.__path__):\n"
            "    importlib.import_module('reports.' + m.name)\n"
            "print('torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.stdout.strip() == "False", r.stderr


def test_importing_every_module_has_no_side_effects(tmp_path):
    """Importing any module writes nothing and configures no logging (checked in a clean cwd)."""
    code = ("import importlib, pkgutil, logging, os\n"
            "for pkg in ('models', 'harness', 'suites'):\n"
            "    p = importlib.import_module(pkg)\n"
            "    for m in pkgutil.iter_modules(p.__path__):\n"
            "        if m.name != '__main__': importlib.import_module(pkg + '.' + m.name)\n"
            "print(len(logging.getLogger().handlers), sorted(os.listdir('.')))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                       env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "0 []"
