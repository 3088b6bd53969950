"""A trained model at work: loading a finished run (``load``), batched generation (``generate``), the
generation journal (``journal``), samples files (``records``), the lm-eval model (``lm_model``) and FFN
activation sparsity (``sparsity``).

May import: ``models``, ``harness.data``, ``harness.train`` and the base modules.
"""
