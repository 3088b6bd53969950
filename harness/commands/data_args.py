"""The ``--data``/``--mix`` flags that ``train``, ``finetune`` and ``data`` share, and the ``DataConfig``
they make."""

from __future__ import annotations

from harness.data.config import DEFAULT_MIX, SOURCES, DataConfig


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
