"""The training corpus: a mixture of token files, and batches that are a pure function of the step.

Sources (each tokenized once into a memory-mapped token file under ``out/cache/corpus/``):

- ``synth_code``   small Python functions (signature, docstring with examples, body) — ``harness.synth``
- ``synth_reason`` grade-school word problems with worked solutions ending in ``#### N`` — ``harness.synth``
- ``stdlib``       the CPython standard library found on this machine (no tests); whole modules
                   (:data:`HELDOUT_STDLIB`) are held out for validation
- ``user``         your own text: a .txt/.md/... file, a .jsonl file (one document per line: a string or
                   an object with ``text``), a folder of those, or ``hf:NAME`` (a Hugging Face dataset
                   already in the local cache, or reachable with ``HF_HUB_OFFLINE=0``)

Each document is stored as ``BOS text EOS``. The synthetic train/eval split is decided by
``harness.synth.split_of`` (a hash of the prompt), so no evaluation prompt is ever trained on.
Validation tokens come from the held-out parts: eval-split synthetic items, held-out stdlib modules, and
the last 5% of a user corpus.

A batch is a deterministic function of ``(seed, step)``: row ``i`` of step ``s`` draws its source (by
the mixture weights) and its window offset from ``numpy.random.default_rng([seed, s])``. A run resumes
exactly from the step number alone, and the global batch is the same whatever the number of processes
or gradient-accumulation steps (each takes its slice of rows).

    python -m harness data --stats                              # documents and tokens per source
    python -m harness data --stats --mix synth_code=0.5,synth_reason=0.5
    python -m harness data --stats --data ~/my_corpus.jsonl     # tokenize your own corpus once
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import sys
import sysconfig
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from harness.paths import atomic_write, atomic_write_json, cache_dir
from harness.tokenizer import get_tokenizer

FORMAT = 1  # bump when the token-file layout or document encoding changes (invalidates the cache)
SOURCES = ("synth_code", "synth_reason", "stdlib", "user")
# The lead tunes this for quality (it is a knob: --mix, TrainConfig.mix); weights are renormalised.
DEFAULT_MIX = {"synth_code": 0.45, "synth_reason": 0.45, "stdlib": 0.1}
SYNTH_VAL_ITEMS = 500  # eval-split synthetic items per family used for validation loss
USER_VAL_FRACTION = 0.05

# Whole stdlib modules kept out of training (present in CPython 3.10-3.13, pure Python, varied style).
HELDOUT_STDLIB = ("argparse", "bisect", "calendar", "csv", "difflib", "fractions", "heapq", "shlex",
                  "statistics", "textwrap")
# Path parts never used: tests, generated/machine-specific files, character tables, docs-as-code.
_STDLIB_SKIP_DIRS = {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__",
                     "encodings", "pydoc_data", "ensurepip", "lib-dynload", "__phello__"}
_TEXT_SUFFIXES = {".txt", ".md", ".rst", ".py", ".jsonl", ".json", ".c", ".h", ".js", ".ts", ".java",
                  ".go", ".rs", ".cpp", ".sh", ".tex", ".html", ".csv", ""}


@dataclass(frozen=True)
class DataConfig:
    """What the corpus is made of. Part of the train config (checkpoint compatibility checks it)."""

    mix: dict = field(default_factory=lambda: dict(DEFAULT_MIX))
    data: str | None = None  # user corpus: path or hf:NAME (required when mix has "user")
    corpus_seed: int = 0  # seed of the synthetic generators (independent of the training seed)
    synth_docs: int = 20000  # training documents per synthetic family

    def __post_init__(self):
        mix = {k: float(v) for k, v in dict(self.mix).items() if float(v) != 0.0}
        for k, v in mix.items():
            if k not in SOURCES:
                raise ValueError(f"unknown corpus source {k!r}; valid: {', '.join(SOURCES)}")
            if v < 0:
                raise ValueError(f"mixture weight of {k} is negative ({v:g})")
        if not mix:
            raise ValueError("the corpus mixture is empty")
        if "user" in mix and not self.data:
            raise ValueError("the mixture uses 'user' data but no --data PATH was given")
        if self.synth_docs < 1:
            raise ValueError(f"synth_docs must be positive, got {self.synth_docs}")
        object.__setattr__(self, "mix", mix)

    @classmethod
    def make(cls, mix: str | dict | None = None, data: str | None = None, **kw) -> DataConfig:
        """From CLI-style values: ``--data`` alone means train on that corpus only."""
        if isinstance(mix, str):
            mix = parse_mix(mix)
        if mix is None:
            mix = {"user": 1.0} if data else dict(DEFAULT_MIX)
        return cls(mix=mix, data=data, **kw)

    def to_dict(self) -> dict:
        return asdict(self)


def parse_mix(text: str) -> dict:
    """``"synth_code=0.4,stdlib=0.2"`` → dict. Bad input raises one clear ValueError."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, eq, val = part.partition("=")
        try:
            out[name.strip()] = float(val) if eq else None
        except ValueError:
            out[name.strip()] = None
        if out[name.strip()] is None:
            raise ValueError(f"bad mixture entry {part!r}: use NAME=WEIGHT, e.g. synth_code=0.4,stdlib=0.2")
    return out


# ---- documents per source ---------------------------------------------------------------------
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


def _stdlib_docs(split: str):
    for m, p in stdlib_modules():
        if _is_heldout(m) == (split == "val"):
            yield p.read_text(encoding="utf-8", errors="replace")


def _synth_docs(source: str, split: str, cfg: DataConfig):
    from harness import synth  # written alongside; imported lazily so `data` works without it

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


def _user_docs(spec: str):
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


def _user_key(spec: str) -> str:
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


# ---- token files ------------------------------------------------------------------------------
class TokenFile:
    """A memory-mapped 1-D token array plus its metadata (``<name>.bin`` + ``<name>.json``)."""

    def __init__(self, path: pathlib.Path):
        self.meta = json.loads(path.with_suffix(".json").read_text())
        self.path = path
        self.tokens = np.memmap(path, dtype=np.dtype(self.meta["dtype"]), mode="r",
                                shape=(self.meta["n_tokens"],))

    def __len__(self) -> int:
        return int(self.meta["n_tokens"])


def _encode(tok, text: str, dtype) -> np.ndarray:
    if tok.name == "byte":  # fast path: bytes are the ids
        body = np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(dtype)
        return np.concatenate([np.array([tok.bos_id], dtype), body, np.array([tok.eos_id], dtype)])
    return np.asarray(tok.encode(text, bos=True, eos=True), dtype=dtype)


def _source_key(source: str, split: str, cfg: DataConfig, tok) -> dict:
    key = {"format": FORMAT, "source": source, "split": split, "tokenizer": tok.to_dict()}
    if source.startswith("synth"):
        from harness import synth

        key.update(seed=cfg.corpus_seed, n=cfg.synth_docs if split == "train" else SYNTH_VAL_ITEMS,
                   synth_sha=hashlib.sha256(pathlib.Path(synth.__file__).read_bytes()).hexdigest())
    elif source == "stdlib":
        key.update(python=sys.version.split()[0], root=str(stdlib_root()), heldout=list(HELDOUT_STDLIB))
    else:
        key.update(data=_user_key(cfg.data), val_fraction=USER_VAL_FRACTION)
    return key


def _write_tokens(path: pathlib.Path, arr: np.ndarray, meta: dict) -> None:
    atomic_write(path, lambda f: f.write(arr.tobytes()))
    atomic_write_json(path.with_suffix(".json"), meta)  # written last: its presence marks a complete file


def token_file(source: str, split: str, cfg: DataConfig, tokenizer=None) -> TokenFile:
    """The token file of one source and split ("train" or "val"), built on first use and cached."""
    tok = tokenizer or get_tokenizer()
    key = _source_key(source, split, cfg, tok)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    path = cache_dir() / "corpus" / f"{source}-{split}-{digest}.bin"
    if path.exists() and path.with_suffix(".json").exists():
        return TokenFile(path)
    dtype = np.uint16 if tok.vocab_size <= 65536 else np.uint32
    if source == "user":
        docs = list(_user_docs(cfg.data))
        arrs = [_encode(tok, d, dtype) for d in docs if d.strip()]
        if not arrs:
            raise ValueError(f"--data {cfg.data}: no text found (empty corpus)")
        full = np.concatenate(arrs)
        cut = len(full) - max(1, int(len(full) * USER_VAL_FRACTION))  # the last 5% is validation
        arr = full[:cut] if split == "train" else full[cut:]
        n_docs = len(arrs)
    else:
        docs = _stdlib_docs(split) if source == "stdlib" else _synth_docs(source, split, cfg)
        arrs = [_encode(tok, d, dtype) for d in docs if d.strip()]
        if not arrs:
            raise RuntimeError(f"corpus source {source} ({split}) produced no documents")
        arr, n_docs = np.concatenate(arrs), len(arrs)
    meta = {**key, "key_digest": digest, "dtype": np.dtype(dtype).name, "n_tokens": int(len(arr)),
            "n_docs": n_docs, "sha256": hashlib.sha256(arr.tobytes()).hexdigest()}
    _write_tokens(path, arr, meta)
    return TokenFile(path)


# ---- the mixture and its batches --------------------------------------------------------------
class Corpus:
    """The mixture of sources for one split; :meth:`batch` is a pure function of (seed, step, rows)."""

    def __init__(self, cfg: DataConfig | None = None, split: str = "train", tokenizer=None):
        self.cfg = cfg or DataConfig()
        self.split = split
        self.tokenizer = tokenizer or get_tokenizer()
        self.names = sorted(self.cfg.mix)  # fixed order: the draw must not depend on dict order
        self.files = [token_file(n, split, self.cfg, self.tokenizer) for n in self.names]
        w = np.array([self.cfg.mix[n] for n in self.names], dtype=np.float64)
        self.weights = w / w.sum()

    @property
    def digest(self) -> str:
        """Identifies the exact tokens and weights (stored in checkpoints and results)."""
        h = hashlib.sha256()
        for n, f, w in zip(self.names, self.files, self.weights):
            h.update(f"{n}:{f.meta['sha256']}:{w!r};".encode())
        return h.hexdigest()

    def info(self) -> dict:
        return {"digest": self.digest, "split": self.split, "sources": [
            {"name": n, "weight": float(w), "docs": f.meta["n_docs"], "tokens": len(f), "file": str(f.path)}
            for n, f, w in zip(self.names, self.files, self.weights)]}

    def windows(self, seed: int, step: int, n_rows: int, length: int) -> np.ndarray:
        """The step's whole global batch: ``n_rows`` windows of ``length`` tokens, (n_rows, length)."""
        rng = np.random.default_rng([seed, step])
        src = rng.choice(len(self.names), size=n_rows, p=self.weights)
        u = rng.random(n_rows)
        out = np.empty((n_rows, length), dtype=np.int64)
        for i, (s, ui) in enumerate(zip(src, u)):
            toks = self.files[s].tokens
            if len(toks) < length:
                raise ValueError(f"corpus source {self.names[s]} ({self.split}) has {len(toks)} tokens, "
                                 f"fewer than one sequence of {length}")
            starts = self._doc_starts(s, length)
            if starts is not None:  # short documents: start the window at one, so it is seen whole
                off = int(starts[int(ui * len(starts))])
            else:  # long documents (stdlib modules): any offset, or only their beginnings would be seen
                off = int(ui * (len(toks) - length + 1))
            out[i] = toks[off:off + length]
        return out

    def _doc_starts(self, s: int, length: int) -> np.ndarray | None:
        """Offsets of the documents of source ``s`` that can start a window of ``length`` tokens, if its
        documents are short (shorter than a window on average); None for long-document sources.

        Why: a window cut mid-document shows a function body without its signature (or an answer without
        its question) and teaches the model to guess from priors instead of reading the prompt; aligned
        windows made the small models use their prompts."""
        key = (s, length)
        cache = self.__dict__.setdefault("_starts", {})
        if key not in cache:
            f = self.files[s]
            toks = f.tokens
            starts = None
            if len(toks) / max(1, f.meta["n_docs"]) < length:  # documents start with the tokenizer's BOS
                starts = np.flatnonzero(np.asarray(toks) == self.tokenizer.bos_id)
                starts = starts[starts <= len(toks) - length]
                if len(starts) == 0:
                    starts = None
            cache[key] = starts
        return cache[key]

    def batch(self, seed: int, step: int, global_batch: int, seq_len: int, rows: slice | None = None):
        """(inputs, targets) LongTensors of shape (rows, seq_len) for this process's slice of rows."""
        w = torch.from_numpy(self.windows(seed, step, global_batch, seq_len + 1)[rows or slice(None)])
        return w[:, :-1], w[:, 1:]


def validation_tokens(n_seqs: int, seq_len: int, seed: int = 0, cfg: DataConfig | None = None, tokenizer=None):
    """Fixed held-out tokens (n_seqs, seq_len): eval-split synthetic text and held-out stdlib modules
    (or the held-out tail of a user corpus), mixed by the corpus weights, in ``tokenizer``'s ids (default:
    the byte tokenizer). Deterministic."""
    corpus = Corpus(cfg or DataConfig(), split="val", tokenizer=tokenizer)
    return torch.from_numpy(corpus.windows(seed, 0, n_seqs, seq_len))


# ---- the `data` command -----------------------------------------------------------------------
def stats(cfg: DataConfig) -> list[dict]:
    rows = []
    for split in ("train", "val"):
        for s in Corpus(cfg, split).info()["sources"]:
            rows.append({"split": split, **s})
    return rows


def add_arguments(p) -> None:
    p.add_argument("--stats", action="store_true", help="print documents and tokens per source (builds the "
                   "token files if needed)")
    add_data_arguments(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--fetch", action="store_true",
                   help="download the benchmark data that is not shipped (evalplus HumanEval+/MBPP+, lm-eval's "
                        "gsm8k) into the local caches the suites read offline; needs the network")


def add_data_arguments(p) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--data", metavar="PATH", help="your own corpus: .txt/.jsonl file, folder, or hf:NAME "
                   "(alone: train on it only; add 'user=W' to --mix to mix it in)")
    g.add_argument("--mix", metavar="SRC=W,...", help="mixture weights over " + ", ".join(SOURCES) +
                   " (default " + ",".join(f"{k}={v:g}" for k, v in DEFAULT_MIX.items()) + ")")
    g.add_argument("--corpus-seed", type=int, default=0, help="seed of the synthetic generators (default 0)")
    g.add_argument("--synth-docs", type=int, default=DataConfig().synth_docs,
                   help="training documents per synthetic family (default %(default)s)")


def config_from_args(args) -> DataConfig:
    return DataConfig.make(args.mix, args.data, corpus_seed=args.corpus_seed, synth_docs=args.synth_docs)


def fetch_benchmarks() -> list[str]:
    """Fetch the datasets that no package ships; returns the failures (one line each)."""
    from suites.evalplus_suites import fetch

    failures = []
    for suite in ("humaneval_plus", "mbpp_plus"):
        try:
            print(f"{suite}: {fetch(suite)}")
        except OSError as e:
            failures.append(f"{suite}: could not download ({e}); are you online?")
    try:
        import datasets

        datasets.load_dataset("openai/gsm8k", "main")  # what lm-eval's gsm8k task reads
        print("lm_eval:gsm8k: cached under $HF_HOME")
    except Exception as e:  # noqa: BLE001 — datasets raises many kinds offline; report, don't crash
        failures.append(f"lm_eval:gsm8k: could not download ({type(e).__name__}); are you online?")
    return failures


def run(args) -> int:
    if args.fetch:
        failures = fetch_benchmarks()
        for f in failures:
            print(f"error: {f}", file=sys.stderr)
        if failures:
            return 1
    cfg = config_from_args(args)
    rows = stats(cfg)
    if args.json:
        print(json.dumps({"config": cfg.to_dict(), "sources": rows}, indent=2))
        return 0
    print(f"{'split':<6} {'source':<13} {'weight':>6} {'docs':>8} {'tokens':>11}  file")
    for r in rows:
        print(f"{r['split']:<6} {r['name']:<13} {r['weight']:>6.2f} {r['docs']:>8} {r['tokens']:>11}  {r['file']}")
    return 0
