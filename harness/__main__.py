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
    python -m harness selfcheck [--quick] [--json]    # hostile code, crash safety, bad input
    python -m harness <command> --help                # every command documents its flags

Each command lives in its own module, which provides ``add_arguments(parser)`` and ``run(args)``.
Bad input (unknown model, p or α out of range, a corrupt checkpoint, an unwritable output folder, a full
disk, ...) prints one line ``error: ...`` and exits 2.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import json
import sys

from models.registry import DEFAULT_VARIANTS, GRIDS, SCALES, get_variant

# command → (module providing add_arguments/run, one-line help). Modules are imported when the parser
# is built, so `--help` shows every flag.
COMMANDS = {
    "data": ("harness.data", "build / describe the training corpus"),
    "train": ("harness.train", "train a variant (single process or under torchrun)"),
    "eval": ("harness.evaluate", "evaluate a variant on suites (trains first if needed)"),
    "profile": ("harness.profile", "FFN sparsity per layer and dense vs sparse decode speed"),
    "bench": ("harness.bench", "micro-benchmarks: sparse FFN, trainer throughput, activation cost"),
    "reproduce": ("harness.reproduce", "train, evaluate and profile every run a paper table needs"),
    "diversity": ("harness.diversity", "generation diversity: stochastic activation vs sampling"),
    "selfcheck": ("harness.selfcheck", "hostile code, crash safety and bad input, quickly"),
    "export": ("harness.export", "export a run to a Hugging Face transformers checkpoint"),
    "finetune": ("harness.finetune", "relufy an existing Llama checkpoint with a recipe"),
}


def _variant_info(name: str) -> dict:
    v = get_variant(name)
    # The schedule depends on the step count; show it for a 1000-step run (fractions read off easily).
    return {**v.to_dict(), "label": v.label, "train_act": str(v.train_act),
            "switch_fraction": None if v.switch_step(1000) is None else 1.0 - v.alpha,
            "schedule_1000_steps": v.schedule(1000)}


def _suites() -> dict:
    from suites import SUITES

    return {name: getattr(s, "description", "") for name, s in SUITES.items()}


def cmd_ls(args) -> int:
    names = args.names or DEFAULT_VARIANTS
    variants = [_variant_info(n) for n in names]  # raises ValueError on a bad name
    if args.json:
        out = {"variants": variants, "grids": GRIDS} if args.names else {
            "variants": variants, "grids": GRIDS,
            "scales": {k: s.to_dict() for k, s in SCALES.items()}, "suites": _suites()}
        print(json.dumps(out, indent=2))
        return 0
    print("variants (any p in [0,1], alpha in [0,1) works: stocha-p0.35-a0.15, swi-ft-a0.2, ...):")
    for v in variants:
        sched = " -> ".join(f"{ph['act']}@{ph['start'] / 1000:.2f}T" for ph in v["schedule_1000_steps"])
        print(f"  {v['name']:<26} {v['label']:<26} train: {sched:<34} inference: {v['inference_act']}")
    if args.names:
        return 0
    print("\nscales:")
    for s in SCALES.values():
        m = s.model
        print(f"  {s.name:<6} {m.num_params() / 1e6:>9.2f}M params  d={m.dim} L={m.n_layers} "
              f"ffn={m.ffn_dim} heads={m.n_heads}/{m.kv_heads}  {s.description}")
    print("\ngrids (paper tables): " + "; ".join(f"{k}: {', '.join(v)}" for k, v in GRIDS.items()))
    suites = _suites()
    print("\nsuites: " + (", ".join(suites) if suites else "(none yet)"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m harness", description="Activation-sparsity harness.",
                                 epilog="Run 'python -m harness COMMAND --help' for a command's flags.")
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    p = sub.add_parser("ls", help="list variants, scales and suites",
                       description="List model variants (or just the named ones), scales and suites.")
    p.add_argument("names", nargs="*", metavar="NAME", help="variant names to describe (any grid point)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_ls)

    for name, (module, help_) in COMMANDS.items():
        mod = importlib.import_module(module)
        p = sub.add_parser(name, help=help_, description=(mod.__doc__ or help_).strip().split("\n\n")[0],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(func=mod.run)
    return ap


def _one_line(e: BaseException) -> str:
    """The error as one line. An OSError from the system (EACCES, ENOSPC, EFBIG, ENOTDIR: an unwritable
    output folder, a full disk) names what failed on which path; a multi-line message keeps its first line."""
    if isinstance(e, OSError) and e.strerror and e.filename:
        verb = "cannot write" if e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS) else "cannot use"
        return f"{verb} {e.filename}: {e.strerror}"
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return f"cannot write output: {e.strerror or e} (disk full or file size limit)"
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    try:
        return args.func(args) or 0
    except (ValueError, FileNotFoundError, RuntimeError, OSError) as e:
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
