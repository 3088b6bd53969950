"""List model variants (or just the named ones), scales and suites.

    python -m harness ls                          # every variant of the paper's grids, scales, suites
    python -m harness ls stocha-p0.35-a0.15       # any grid point by name: its schedule and inference act
    python -m harness ls --json
"""

from __future__ import annotations

import json

from models.registry import DEFAULT_VARIANTS, GRIDS, SCALES, get_variant

HELP = "list variants, scales and suites"


def add_arguments(p) -> None:
    p.add_argument("names", nargs="*", metavar="NAME", help="variant names to describe (any grid point)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _variant_info(name: str) -> dict:
    v = get_variant(name)
    # The schedule depends on the step count; show it for a 1000-step run (fractions read off easily).
    return {**v.to_dict(), "label": v.label, "train_act": str(v.train_act),
            "switch_fraction": None if v.switch_step(1000) is None else 1.0 - v.alpha,
            "schedule_1000_steps": v.schedule(1000)}


def _suites() -> dict:
    from suites import SUITES

    return {name: getattr(s, "description", "") for name, s in SUITES.items()}


def run(args) -> int:
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
