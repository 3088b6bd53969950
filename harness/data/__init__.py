"""The training corpus: its sources and mixture (``config``, ``sources``, ``synth``), the tokenizers, token
files and batches that are a pure function of (seed, step) (``corpus``).

May import: the standard library, numpy, torch, and ``harness.results`` / ``harness.paths``.
"""
