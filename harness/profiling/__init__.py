"""Speed and the profile result: decode timing dense vs sparse (``decode``), synthetic FFN and decoder-layer
benchmarks (``ffn``), the activation's cost (``act``), trainer throughput (``throughput``), decoding
against transformers (``vs_hf``), ``make bench`` (``benchmarks``), shared timing (``timing``), defaults
(``settings``, no torch) and a run's profile result (``profile_run``).

May import: ``models``, ``harness.data``, ``harness.train``, ``harness.infer``, ``harness.interop`` and the
base modules.
"""
