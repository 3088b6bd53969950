"""Build and load the project's small C++ CPU kernels (``models/*.cpp``) with the system compiler.

A kernel is compiled on first use with ``g++ -O3 -march=native`` into ``$SPARSEBENCH_KERNEL_DIR`` (default
``~/.cache/sparsebench``) under a name that hashes the source, the compiler command and the CPU model, so
a cached build never runs on a CPU it was not compiled for and an edited source is rebuilt. It is loaded
with ctypes; callers declare the argument types. Without a compiler (or with ``SPARSEBENCH_KERNEL=0``)
:func:`build_and_load` returns ``(None, reason)`` and the caller runs its plain-PyTorch path.

    >>> import pathlib
    >>> from models.kernels import build_and_load
    >>> lib, err = build_and_load(pathlib.Path("models/sparse_kernel.cpp"), "sparse_kernel")
    >>> lib is not None or err is not None
    True
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import pathlib
import platform
import subprocess
import tempfile
import warnings

CFLAGS = ("-O3", "-march=native", "-fopenmp-simd", "-shared", "-fPIC", "-std=c++17")
ENV_SWITCH = "SPARSEBENCH_KERNEL"


def cpu_tag() -> str:
    """The CPU the kernel is compiled for (-march=native): a cached build must not move between CPUs."""
    model = platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith(("model name", "flags")):
                model += line
                if line.startswith("flags"):
                    break
    except OSError:
        pass
    return model


def kernel_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("SPARSEBENCH_KERNEL_DIR", pathlib.Path.home() / ".cache" / "sparsebench"))


def kernels_disabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1") == "0"


def build_and_load(src: pathlib.Path, name: str, cflags=CFLAGS, build: bool = True,
                   libs=("-lpthread",)) -> tuple[ctypes.CDLL | None, str | None]:
    """``(library, None)``, or ``(None, why)`` when disabled or the build/load fails.

    ``(None, None)`` means "not built yet and ``build=False``". Concurrent builders are safe: each compiles
    into a temporary file and renames it into place atomically.
    """
    if kernels_disabled():
        return None, f"disabled by {ENV_SWITCH}=0"
    cxx = os.environ.get("CXX", "g++")
    # The headers beside the source (models/thread_pool.h) are part of what is compiled: a change to one
    # must rebuild every kernel that includes it.
    code = src.read_bytes() + b"".join(h.read_bytes() for h in sorted(src.parent.glob("*.h")))
    tag = hashlib.sha256(code + " ".join([cxx, *cflags]).encode() + cpu_tag().encode())
    lib = kernel_dir() / f"{name}_{tag.hexdigest()[:16]}.so"
    try:
        if not lib.exists():
            if not build:
                return None, None
            lib.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=lib.parent, suffix=".so")
            os.close(fd)
            try:
                subprocess.run([cxx, *cflags, "-o", tmp, str(src), *libs], check=True,
                               capture_output=True, text=True, timeout=300)
                os.replace(tmp, lib)  # atomic: concurrent builders never load a half-written file
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        return ctypes.CDLL(str(lib)), None
    except (OSError, subprocess.SubprocessError) as e:
        detail = (getattr(e, "stderr", None) or str(e)).strip()
        return None, f"{name.replace('_', ' ')} unavailable ({cxx}): {detail.splitlines()[-1] if detail else e}"


class Kernel:
    """One lazily built C++ library: built and loaded on first use, its ctypes signatures declared, and
    the reason kept (and warned once) when it cannot be had — the caller then runs its PyTorch path.

    ``signatures`` maps a function name to ``(argtypes, restype)``.
    """

    def __init__(self, src: pathlib.Path, name: str, signatures: dict, fallback: str, cflags=CFLAGS):
        self.src, self.name, self.signatures, self.fallback, self.cflags = src, name, signatures, fallback, cflags
        self.lib = None
        self.error: str | None = None

    def load(self, build: bool = True):
        if self.lib is not None or self.error is not None:
            return self.lib
        so, err = build_and_load(self.src, self.name, self.cflags, build=build)
        if so is None:
            if err is not None:
                self.error = err
                if not kernels_disabled():
                    warnings.warn(f"{err}; using {self.fallback}", RuntimeWarning, stacklevel=3)
            return None
        for fn, (argtypes, restype) in self.signatures.items():
            getattr(so, fn).argtypes = argtypes
            getattr(so, fn).restype = restype
        self.lib = so
        return so
