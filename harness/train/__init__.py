"""A training run: its config (``config``), the optimizer-step loop (``loop``), starting and resuming
(``resume``), checkpoints (``checkpoint``, ``checkpoint_files``), ``metrics.jsonl`` (``metrics_log``),
torchrun (``dist``), the run itself (``trainer``) and its result (``result``).

May import: ``models``, ``harness.data`` and the base modules (``harness.results``, ``paths``,
``provenance``, ``faults``).
"""
