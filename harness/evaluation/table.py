"""The comparison table ``python -m harness eval`` prints: the headline metric of every finished suite, one
row per (model, seed, activation) of a scale, read from the result files.
"""

from __future__ import annotations

from harness.results import iter_results, out_root

HEADLINE = ("pass@1", "exact_match", "acc", "bits_per_byte")


def print_table(scale: str, current: tuple[str, int] | None = None, log=print):
    """Headline metric of every finished suite, one row per (model, seed, eval_act) of this scale."""
    rows: dict[tuple, dict] = {}
    cols: list[str] = []
    for r in iter_results(out_root() / "results" / scale):
        if r.get("kind") not in ("eval", "profile") or r.get("status") != "ok":
            continue
        run = r["run"]
        m = next((m for m in r["metrics"] if m["name"] in HEADLINE + ("sparsity",) and
                  not ({"family", "module", "layer"} & set(m)) and m.get("tests", "plus") == "plus"), None)
        if m is None or m["value"] is None:
            continue
        col = r["suite"]["name"] if r["kind"] == "eval" else "sparsity"
        if col not in cols:
            cols.append(col)
        partial = m.get("n") is not None and m.get("n_total") is not None and m["n"] < m["n_total"]
        own = r["kind"] == "eval" or run.get("eval_act_default") is False  # a profile with --act has its own row
        key = (run["model"], run["seed"], run.get("eval_act") if own else None)
        rows.setdefault(key, {})[col] = f"{m['value']:.3f}" + ("*" if partial else "")
        if r["kind"] == "profile" and r["suite"].get("version") not in ("1", "2"):
            # decoding with enable_sparse's own choice (v3 on): 1.000 where the sparse path does not win
            dec = next((m for m in r["metrics"] if m["name"] == "decode_speedup"), None)
            if dec is not None:
                cols += [] if "decode x" in cols else ["decode x"]
                rows[key]["decode x"] = f"{dec['value']:.3f}"
    if not rows:
        log("(no finished results yet)")
        return
    # profile rows carry no eval_act: fold them into the model's default-activation row
    merged: dict[tuple, dict] = {}
    for (model, seed, act), vals in rows.items():
        if act is None:
            target = next((k for k in rows if k[0] == model and k[1] == seed and k[2] is not None), (model, seed, "-"))
        else:
            target = (model, seed, act)
        merged.setdefault(target, {}).update(vals)
    w = max(len(k[0]) for k in merged) + 2
    head = f"{'':2}{'model':<{w}}{'seed':>4}  {'act':<14}" + "".join(f"{c[:12]:>13}" for c in cols)
    log(f"\nresults at scale {scale} (* = partial, --limit):\n" + head)
    for key in sorted(merged):
        mark = "→ " if current and (key[0], key[1]) == current else "  "
        log(f"{mark}{key[0]:<{w}}{key[1]:>4}  {str(key[2])[:14]:<14}"
            + "".join(f"{merged[key].get(c, '-'):>13}" for c in cols))
