"""How it runs: training, evaluation, profiling and the command line, in layers that import only downwards.

    models/             what is trained (torch only)
    harness/results.py, paths.py, provenance.py, faults.py
                        the output folder, result files, provenance, fault points (standard library only;
                        reports/ reads results through harness.results alone)
    harness/data/       the corpus: sources, tokenizer, token files, batches of (seed, step)
    harness/train/      a training run: config, loop, checkpoints, resume, torchrun
    harness/sandbox/    generated code run in a guarded subprocess (standard library only)
    harness/infer/      a trained model at work: loading, generation, journal, lm-eval model, sparsity
    harness/interop/    Hugging Face: conversion, export, relufying fine-tunes
    harness/profiling/  speed: decode timing, FFN/layer/activation benchmarks, the profile result
    suites/             what is measured (uses the library above)
    harness/evaluation/ a run evaluated on suites: results, samples files, the comparison table
    harness/diversity/  the generation-diversity study
    harness/commands/   one module per command: arguments, then calls into the layers above
    harness/verify/     hostile programs, crash checks, the bad-input matrix, selfcheck
    harness/__main__.py the command table (python -m harness)

A module imports only from its own layer or the ones listed above it (``tests/test_imports.py`` checks
every import, those inside functions included, and that there is no import circle). Importing any module
does nothing: no downloads, no logging set-up, no files.
"""
