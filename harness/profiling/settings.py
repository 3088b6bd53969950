"""Defaults of the profiler and the micro-benchmarks, without torch: the command line shows them as it is
built, before anything heavy loads.
"""

VERSION = "3"  # of the profile result; 2: same-kernel speed-up and its bound per width;
# 3: decode_speedup is enable_sparse's auto path (1.0 when it keeps dense), decode_speedup_kernel the forced kernel
WIDTHS = (1024, 2048, 4096)  # model widths of the synthetic FFN / layer benchmarks in a profile
HEADLINE_WIDTH = 2048  # the width whose speed-ups stand for the run in tables and plots
MIN_STREAM_BYTES = 160e6  # weights each benchmark pass reads: far more than the CPU cache holds
DTYPES = ("fp32", "bf16")
