"""Documents per corpus source: synthetic tasks, the standard library found on this machine, your own text.

- ``synth_code`` / ``synth_reason``: ``harness.data.synth``'s train split (validation: its eval split)
- ``stdlib``: every non-test module of this Python's standard library; whole modules
  (:data:`HELDOUT_STDLIB`) are held out for validation (and for the ``stdlib_bpb`` suite)
- ``user``: a .txt/.md/... file, a .jsonl file (one document per line: a string or an object with
  ``text``), a folder of those, or ``hf:NAME`` (a Hugging Face dataset in the local cache)

Unreadable input raises one clear error naming the file.
"""

from __future__ import annotations

import json
import pathlib
import sysconfig

from harness.data import synth
from harness.data.config import DataConfig

SYNTH_VAL_ITEMS = 500  # eval-split synthetic items per family used for validation loss

# Whole stdlib modules kept out of training (present in CPython 3.10-3.13, pure Python, varied style).
HELDOUT_STDLIB = ("argparse", "bisect", "calendar", "csv", "difflib", "fractions", "heapq", "shlex",
                  "statistics", "textwrap")
# Path parts never used: tests, generated/machine-specific files, character tables, docs-as-code.
_STDLIB_SKIP_DIRS = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__",
                     "encodings", "pydoc_data", "ensurepip", "lib-dynload", "__phello__"}
_TEXT_SUFFIXES = {".txt", ".md", ".rst", ".py", ".jsonl", ".json", ".c", ".h", ".js", ".ts", ".java",
                  ".go", ".rs", ".cpp", ".sh", ".tex", ".html", ".csv", ""}


def stdlib_root() -> pathlib.Path:
    return pathlib.Path(sysconfig.get_paths()["stdlib"])


def stdlib_modules() -> list[tuple[str, pathlib.Path]]:
    """(dotted module name, path) of every non-test stdlib source file, sorted."""
    root = stdlib_root()
    out = []
    for p in sorted(root.rglob("*.py")):
        rel = p.relative_to(root)
        if any(part in _STDLIB_SKIP_DIRS or part.startswith("config-") for part in rel.parts[:-1]):
            continue
        if p.name.startswith(("test_", "_sysconfigdata")) or p.stem.endswith("_test"):
            continue  # tests, and the machine-specific build configuration
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append((".".join(parts), p))
    return out


def _is_heldout(module: str) -> bool:
    return module.split(".")[0] in HELDOUT_STDLIB


def heldout_stdlib_modules() -> list[tuple[str, str]]:
    """(module name, source text) of the whole stdlib modules held out of training."""
    return [(m, p.read_text(encoding="utf-8", errors="replace")) for m, p in stdlib_modules()
            if _is_heldout(m)]


def stdlib_docs(split: str):
    for m, p in stdlib_modules():
        if _is_heldout(m) == (split == "val"):
            yield p.read_text(encoding="utf-8", errors="replace")


def synth_docs(source: str, split: str, cfg: DataConfig):
    kind = "code" if source == "synth_code" else "reason"
    if split == "train":
        return synth.train_documents(kind, cfg.synth_docs, seed=cfg.corpus_seed)
    # validation: held-out (eval-split) items, never trained on
    if kind == "code":
        return [synth.code_document(t) for t in synth.code_tasks("eval", SYNTH_VAL_ITEMS, seed=cfg.corpus_seed)]
    return [synth.reason_document(p) for p in synth.reason_problems("eval", SYNTH_VAL_ITEMS, seed=cfg.corpus_seed)]


def _user_files(path: pathlib.Path) -> list[pathlib.Path]:
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _TEXT_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(path).parts))
    if not files:
        raise ValueError(f"no text files (.txt, .jsonl, .md, .py, ...) under {path}")
    return files


def _json_text(obj, where: str) -> str:
    if isinstance(obj, str):
        return obj
    if isinstance(obj, dict):
        for key in ("text", "content"):
            if isinstance(obj.get(key), str):
                return obj[key]
    raise ValueError(f"{where}: expected a string or an object with a 'text' field")


def user_docs(spec: str):
    """Documents of a user corpus, in a fixed order. Unreadable input raises one clear error."""
    if spec.startswith("hf:"):
        yield from _hf_docs(spec[3:])
        return
    path = pathlib.Path(spec).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"--data {spec}: no such file or folder")
    files = _user_files(path)
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            if len(files) == 1:
                raise ValueError(f"--data {f}: not UTF-8 text") from None
            continue  # a binary file inside a folder: skip it
        except OSError as e:
            raise ValueError(f"--data {f}: cannot read ({e.strerror})") from None
        if f.suffix.lower() in (".jsonl", ".json"):
            lines = [text] if f.suffix.lower() == ".json" else text.splitlines()
            for i, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"--data {f}:{i}: invalid JSON ({e.msg})") from None
                for j, item in enumerate(obj if isinstance(obj, list) else [obj]):
                    yield _json_text(item, f"--data {f}:{i}" + (f"[{j}]" if isinstance(obj, list) else ""))
        else:
            yield text


def _hf_docs(name: str):
    try:
        import datasets
    except ImportError:
        raise RuntimeError("--data hf:NAME needs the 'datasets' package (pip install datasets)") from None
    name, _, config = name.partition(":")
    try:
        ds = datasets.load_dataset(name, config or None, split="train")
    except Exception as e:  # offline, unknown name, ...: one line, with the way out
        raise RuntimeError(f"cannot load Hugging Face dataset {name!r} ({type(e).__name__}: "
                           f"{str(e).splitlines()[0] if str(e) else ''}); it must be in the local cache, "
                           f"or run with HF_HUB_OFFLINE=0 HF_DATASETS_OFFLINE=0") from None
    cols = [c for c, f in ds.features.items() if getattr(f, "dtype", None) == "string"]
    col = "text" if "text" in cols else (cols[0] if cols else None)
    if col is None:
        raise ValueError(f"Hugging Face dataset {name!r} has no text column")
    for row in ds:
        yield row[col]


def user_key(spec: str) -> str:
    """Cache key of a user corpus: the files' paths, sizes and modification times (or the HF name)."""
    if spec.startswith("hf:"):
        return spec
    path = pathlib.Path(spec).expanduser().resolve()
    if not path.exists():
        raise FileNotFoundError(f"--data {spec}: no such file or folder")
    try:
        files = _user_files(path)
        return json.dumps([(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files])
    except OSError as e:
        raise ValueError(f"--data {spec}: cannot read ({e})") from None
