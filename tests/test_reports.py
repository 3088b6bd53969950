"""reports/: tidy collection, CI, tables, claims and figures on hand-made results with known answers."""

import json
import math
import pathlib
import subprocess
import sys

import pandas as pd
import pytest

from harness.results import make_result, metric, write_result
from models.registry import GRIDS, get_variant
from reports import claims, collect, plots, specs, tables
from reports.collect import load
from reports.stats import CI, mean_ci, overlap, paired_diff, pareto_front

ROOT = pathlib.Path(__file__).resolve().parents[1]
T975_2 = 4.302652729911275  # Student t quantile, 0.975, 2 degrees of freedom
SCALE = "tiny"


def _result(kind, model, seed, suite, metrics, eval_act=None, **extra):
    default = str(get_variant(model).inference_act)
    run = {"scale": SCALE, "model": model, "seed": seed, "step": 100, "checkpoint": None,
           "variant": get_variant(model).to_dict(), "eval_act": eval_act or default,
           "eval_act_default": eval_act is None}
    return make_result(kind, run=run, suite={"name": suite, "version": "1"}, metrics=metrics,
                       provenance={"git_sha": None}, **extra)


# Hand-made values (per seed 0, 1, 2), chosen so means and CIs are easy to compute by hand.
CODE = {"relu": [0.5, 0.6, 0.7], "silu": [0.8, 0.8, 0.8], "swi-ft-a0.05": [0.7, 0.75, 0.8],
        "stocha-p0.7-a0.05": [0.72, 0.74, 0.76]}
REASON = {"relu": [0.10, 0.12, 0.14], "silu": [0.40, 0.42, 0.44], "swi-ft-a0.05": [0.30, 0.32, 0.34],
          "stocha-p0.7-a0.05": [0.31, 0.33, 0.35]}
BPB = {"relu": 2.0, "silu": 1.8, "swi-ft-a0.05": 1.9, "stocha-p0.7-a0.05": 1.85}  # seed 0 only, stderr 0.01
VAL = {"relu": [1.50, 1.52, 1.54], "silu": [1.40, 1.40, 1.40], "swi-ft-a0.05": [1.45, 1.46, 1.47],
       "stocha-p0.7-a0.05": [1.44, 1.45, 1.46]}
SPARSITY = {"relu": [0.70, 0.72, 0.74], "silu": [0.0, 0.0, 0.0], "swi-ft-a0.05": [0.86, 0.88, 0.90],
            "stocha-p0.7-a0.05": [0.90, 0.91, 0.92]}
FFN_SPEEDUP = {"relu": [1.4, 1.5, 1.6], "silu": [1.0, 1.0, 1.0], "swi-ft-a0.05": [1.7, 1.8, 1.9],
               "stocha-p0.7-a0.05": [1.85, 1.9, 1.95]}
STEPS = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
RECOVERS = [3.0, 2.5, 2.2, 2.0, 1.9, 2.3, 2.0, 1.85, 1.8, 1.78]  # switch at 60: spike then back below
STAYS_UP = [3.0, 2.5, 2.2, 2.0, 1.9, 2.5, 2.4, 2.3, 2.25, 2.2]


def _curve(losses, switch):
    return [{"step": s, "loss": x, "val_loss": None, "lr": 1e-3,
             "phase": "relu-ft" if switch is not None and s >= switch else "pretrain"}
            for s, x in zip(STEPS, losses)]


def _passes_first(k: int, n: int = 100) -> dict:
    """Per-item scores of a run that passes exactly the first k of n items."""
    return {"metric": "pass@1", "ids": [f"syn_code/{i}" for i in range(n)], "values": [float(i < k) for i in range(n)]}


def write_fixture(root):
    out = []
    for model in CODE:
        for seed in range(3):
            # Per-item scores consistent with the per-seed value: the first 100·value items pass.
            out.append(_result("eval", model, seed, "syn_code", [metric("pass@1", CODE[model][seed], n=100,
                                                                        n_total=100, k=1)],
                               items=_passes_first(round(100 * CODE[model][seed]))))
            out.append(_result("eval", model, seed, "syn_reason", [metric("exact_match", REASON[model][seed],
                                                                          n=100, n_total=100)]))
            losses = RECOVERS if model == "swi-ft-a0.05" else STAYS_UP
            switch = 60 if model in ("swi-ft-a0.05", "stocha-p0.7-a0.05") else None
            curve = _curve([x + 0.01 * seed for x in losses], switch)
            if model == "stocha-p0.7-a0.05" and seed > 0:
                curve = None  # only seed 0 logged a curve: a one-seed verdict
            out.append(_result("train", model, seed, "train",
                               [metric("val_loss", VAL[model][seed], higher_is_better=False)],
                               curve=curve, switch_step=switch))
            layers = [metric("sparsity", SPARSITY[model][seed] - 0.02, layer=0),
                      metric("sparsity", SPARSITY[model][seed] + 0.02, layer=1)]
            out.append(_result("profile", model, seed, "profile",
                               [metric("sparsity", SPARSITY[model][seed]), *layers,
                                metric("ffn_speedup", FFN_SPEEDUP[model][seed])]))
        # Per-module rows (a breakdown, as stdlib_bpb writes them) must not leak into the overall figure.
        out.append(_result("eval", model, 0, "stdlib_bpb", [
            metric("bits_per_byte", BPB[model], stderr=0.01, higher_is_better=False),
            metric("bits_per_byte", 5.0, n=1, higher_is_better=False, module="json.decoder")]))
    out.append(_result("eval", "gelu", 0, "syn_code", [metric("pass@1", 0.65, n=100, n_total=100, k=1)]))
    # A --limit run (left out of tables) and a skipped suite (listed with its reason).
    out.append(_result("eval", "stocha-p0.5-a0.05", 0, "syn_code",
                       [metric("pass@1", 1.0, n=10, n_total=100)]))
    out.append(_result("eval", "relu", 0, "humaneval", [], status="skipped",
                       skip_reason="data absent: make data"))
    for i, r in enumerate(out):
        write_result(r, root / f"r{i:03d}.json")  # path deliberately meaningless: reports read fields only
    return root


@pytest.fixture
def coll(tmp_path):
    return load(write_fixture(tmp_path / "results"))


def test_mean_ci_known_values():
    c = mean_ci([1, 2, 3])
    assert c.mean == 2 and c.n == 3
    assert c.half == pytest.approx(T975_2 / math.sqrt(3)) and c.half == pytest.approx(2.4841, abs=1e-4)
    one = mean_ci([5.0])
    assert one.mean == 5.0 and one.n == 1 and math.isnan(one.half) and not one.has_interval
    assert mean_ci([None, float("nan")]).n == 0
    assert overlap(CI(1, 0.5, 3), CI(2, 0.5, 3)) and not overlap(CI(1, 0.4, 3), CI(2, 0.5, 3))


def test_specs_grids_match_registry():
    assert specs.GRIDS == GRIDS
    for name in {n for g in GRIDS.values() for n in g} | {"gelu", "stocha-p0.5-a0.1-full-tok"}:
        v = get_variant(name)
        assert specs.label(name, v.to_dict()) == v.label


def test_collect_is_tidy(coll):
    m = coll.metrics
    assert {"scale", "model", "recipe", "p", "alpha", "seed", "suite", "metric", "value", "stderr", "n",
            "n_total", "layer", "k"} <= set(m.columns)
    assert not m["limited"].any() and "stocha-p0.5-a0.05" not in set(m["model"])
    assert coll.n_limited == 1 and any("limited" in n for n in coll.notes)
    assert coll.skipped[["model", "suite", "reason"]].values.tolist() == [["relu", "humaneval",
                                                                          "data absent: make data"]]
    sw = m[(m["model"] == "stocha-p0.7-a0.05") & (m["metric"] == "sparsity")]
    assert len(sw) == 9 and sorted(sw["layer"].dropna().unique()) == [0, 1]
    assert sw["p"].iloc[0] == 0.7 and sw["alpha"].iloc[0] == 0.05 and sw["recipe"].iloc[0] == "stocha"
    assert set(coll.curves["model"]) == set(CODE) and coll.scales == [SCALE]
    with_limited = load(pathlib.Path(coll.root), include_limited=True).metrics
    assert with_limited["limited"].sum() == 1


def test_headline_rows_exclude_breakdowns(tmp_path):
    """evalplus lists plus-tests first, then base; syn_choice adds per-family rows: only the first counts."""
    root = tmp_path / "r"
    write_result(_result("eval", "relu", 0, "humaneval_plus", [
        metric("pass@1", 0.3, n=164, n_total=164, k=1, tests="plus"),
        metric("pass@1", 0.5, n=164, n_total=164, k=1, tests="base")]), root / "a.json")
    write_result(_result("eval", "relu", 0, "syn_choice", [
        metric("acc", 0.6, n=200, n_total=200), metric("acc", 0.9, n=50, family="colors")]), root / "b.json")
    c = load(root)
    assert c.metrics["headline"].tolist() == [True, False, True, False]
    td = tables.build(c, specs.TABLES["main"], SCALE)
    assert td.cell("relu", "eval/humaneval_plus/pass@1").mean == pytest.approx(0.3)
    assert td.cell("relu", "eval/syn_choice/acc").mean == pytest.approx(0.6)


def test_main_table_values_by_hand(coll):
    td = tables.build(coll, specs.TABLES["main"], SCALE)
    assert [r.label for r in td.rows] == ["RELU", "SILU", "Swi+FT(α=0.05)", "StochA(p=0.7, α=0.05)", "GELU",
                                          "StochA(p=0.7, α=0.05), paper (quoted)"]
    assert [c.header for c in td.columns] == ["syn_code pass@1 % ↑", "syn_reason EM % ↑", "val loss ↓",
                                              "stdlib_bpb bpb ↓", "FFN sparsity % ↑", "FFN × vs torch dense ↑"]
    code = "eval/syn_code/pass@1"
    relu = td.cell("relu", code)
    assert relu.mean == pytest.approx(0.6) and relu.half == pytest.approx(T975_2 * 0.1 / math.sqrt(3))
    header, body, bold = tables._grid(td)
    row = {r[0]: dict(zip(header, r)) for r in body}
    assert row["RELU"]["syn_code pass@1 % ↑"] == "60.0 ± 24.8"
    assert row["SILU"]["syn_code pass@1 % ↑"] == "80.0 ± 0.0"
    assert row["Swi+FT(α=0.05)"]["syn_code pass@1 % ↑"] == "75.0 ± 12.4"
    assert row["StochA(p=0.7, α=0.05)"]["syn_reason EM % ↑"] == "33.0 ± 5.0"
    assert row["SILU"]["stdlib_bpb bpb ↓"] == "1.800 (n=1)"  # one seed in a three-seed row: no ±
    assert row["GELU"]["syn_code pass@1 % ↑"] == "65.0" and row["GELU"]["seeds"] == "1"
    assert row["StochA(p=0.7, α=0.05)"]["FFN sparsity % ↑"] == "91.0 ± 2.5"
    assert row["StochA(p=0.7, α=0.05), paper (quoted)"]["FFN sparsity % ↑"] == "84.6"
    assert row["StochA(p=0.7, α=0.05), paper (quoted)"]["FFN × vs torch dense ↑"] == "1.65"
    assert row["StochA(p=0.7, α=0.05), paper (quoted)"]["val loss ↓"] == "–"
    # Best per column, respecting the direction; the quoted row never wins.
    best = {h: [body[i][0] for i in range(len(body)) if bold[i][j]] for j, h in enumerate(header)}
    assert best["syn_code pass@1 % ↑"] == ["SILU"]
    assert best["val loss ↓"] == ["SILU"] and best["stdlib_bpb bpb ↓"] == ["SILU"]
    assert best["FFN sparsity % ↑"] == ["StochA(p=0.7, α=0.05)"]
    assert best["FFN × vs torch dense ↑"] == ["StochA(p=0.7, α=0.05)"]
    assert any("not run" in n and "swi-ft-a0.1" in n and "stocha-p0.5-a0.05" in n for n in td.notes)


def test_other_eval_activation_is_its_own_row_never_averaged(tmp_path):
    """A StochA run scored with SILU at inference (eval --eval-act silu) used to be averaged into the
    variant's RELU row and the claims; now it is a labelled row of its own and the claims ignore it."""
    root = tmp_path / "r"
    for seed, (own, other) in enumerate([(0.30, 0.90), (0.32, 0.92)]):
        write_result(_result("eval", "stocha-p0.7-a0.05", seed, "syn_code", [metric("pass@1", own)]),
                     root / f"own{seed}.json")
        write_result(_result("eval", "stocha-p0.7-a0.05", seed, "syn_code", [metric("pass@1", other)],
                             eval_act="silu"), root / f"silu{seed}.json")
        write_result(_result("eval", "relu", seed, "syn_code", [metric("pass@1", 0.31 - seed / 100)]),
                     root / f"relu{seed}.json")
    c = load(root)
    td = tables.build(c, specs.TABLES["main"], SCALE)
    assert [r.label for r in td.rows] == ["RELU", "StochA(p=0.7, α=0.05)", "StochA(p=0.7, α=0.05) · eval silu"]
    assert td.cell("stocha-p0.7-a0.05", "eval/syn_code/pass@1").mean == pytest.approx(0.31)
    assert td.cell("stocha-p0.7-a0.05@silu", "eval/syn_code/pass@1").mean == pytest.approx(0.91)
    frame = tables.to_frame(td).set_index("variant")
    assert frame.loc["StochA(p=0.7, α=0.05) · eval silu", "eval_act"] == "silu"
    cl = claims.check(c, SCALE)  # StochA 0.31 vs RELU 0.305: the SILU-scored 0.91 must not enter
    assert cl.set_index("claim").loc["StochA > RELU", "diff"] == "+0.5"
    # Results written before eval_act_default existed are judged by the variant's inference activation.
    old = _result("eval", "stocha-p0.7-a0.05", 0, "syn_code", [metric("pass@1", 0.9)], eval_act="silu")
    del old["run"]["eval_act_default"]
    assert not collect.default_act(old)
    assert collect.default_act({**old, "run": {**old["run"], "eval_act": "relu"}})


def test_speedup_headline_is_the_2048_width_not_the_first_row(tmp_path):
    """The profiler lists per-width rows (d = 1024 first) and then the d = 2048 headline without a width:
    the table used to take the d = 1024 row."""
    root = tmp_path / "r"
    rows = [metric("sparsity", 0.9)]
    for d, torch_x, same, bound in [(1024, 1.5, 1.4, 2.4), (2048, 2.2, 2.1, 2.45), (4096, 2.6, 2.3, 2.48)]:
        rows += [metric("ffn_speedup", torch_x, width=d), metric("ffn_speedup_same_gemv", same, width=d),
                 metric("ffn_speedup_bound", bound, width=d)]
    rows += [metric("ffn_speedup", 2.2), metric("ffn_speedup_same_gemv", 2.1), metric("ffn_speedup_bound", 2.45)]
    write_result(_result("profile", "relu", 0, "profile", rows), root / "p.json")
    td = tables.build(load(root), specs.TABLES["main"], SCALE)
    assert td.cell("relu", "profile/ffn_speedup").mean == 2.2
    assert td.cell("relu", "profile/ffn_speedup_same_gemv").mean == 2.1
    assert [c.header for c in td.columns][1:4] == ["FFN × vs torch dense ↑", "FFN × sparsity only (same GEMV) ↑",
                                                   "FFN × bound ↑"]


def test_main_table_csv_has_between_seed_sd(coll):
    frame = tables.to_frame(tables.build(coll, specs.TABLES["main"], SCALE)).set_index("variant")
    assert frame.loc["RELU", "syn_code pass@1 % sd"] == pytest.approx(10.0)  # sd of 50, 60, 70
    assert frame.loc["SILU", "syn_code pass@1 % sd"] == pytest.approx(0.0)
    assert pd.isna(frame.loc["GELU", "syn_code pass@1 % sd"])  # one seed: no sd


def test_bold_ties(tmp_path):
    root = tmp_path / "r"
    for i, (model, v) in enumerate([("relu", 0.5), ("silu", 0.5), ("gelu", 0.2)]):
        write_result(_result("eval", model, 0, "syn_code", [metric("pass@1", v)]), root / f"{i}.json")
    write_result(_result("eval", "relu", 0, "syn_reason", [metric("exact_match", 0.1)]), root / "3.json")
    write_result(_result("eval", "silu", 0, "syn_reason", [metric("exact_match", 0.1)]), root / "4.json")
    td = tables.build(load(root), specs.TABLES["main"], SCALE)
    code, reason = td.columns
    assert td.best(code) == {"relu", "silu"}  # a tie for best: both bold
    assert td.best(reason) == set()  # every row ties: nothing to single out


def test_table_renderings(coll):
    td = tables.build(coll, specs.TABLES["main"], SCALE)
    md = tables.to_markdown(td)
    assert "| **SILU** |" not in md and "**80.0 ± 0.0**" in md
    assert "*StochA(p=0.7, α=0.05), paper (quoted)*" in md
    frame = pd.read_csv(__import__("io").StringIO(tables.to_csv(td)))
    r = frame.set_index("variant").loc["RELU"]
    assert r["syn_code pass@1 %"] == pytest.approx(60.0)
    assert r["syn_code pass@1 % ci95"] == pytest.approx(100 * T975_2 * 0.1 / math.sqrt(3))
    assert r["seeds"] == 3
    tex = tables.to_latex(td)
    assert r"\textbf{80.0 $\pm$ 0.0}" in tex and r"\toprule" in tex and "Swi+FT($\\alpha$=0.05)" in tex
    assert "%" not in tex.replace(r"\%", "")


def test_sweep_tables_select_their_family(coll):
    a = tables.build(coll, specs.TABLES["alpha_sweep"], SCALE)
    assert [r.key for r in a.rows] == ["swi-ft-a0.05", "stocha-p0.7-a0.05"]
    p = tables.build(coll, specs.TABLES["p_sweep"], SCALE)
    assert [r.key for r in p.rows] == ["stocha-p0.7-a0.05"]


def test_switch_spike_by_hand():
    c = pd.DataFrame({"step": STEPS, "loss": RECOVERS})
    s = claims.switch_spike(c, 60)
    assert s["pre"] == pytest.approx((2.2 + 2.0 + 1.9) / 3) and s["peak"] == pytest.approx(2.3)
    assert s["final"] == pytest.approx((1.85 + 1.8 + 1.78) / 3)
    assert claims.switch_spike(c, 200) is None


def test_claims_on_fixture(coll):
    cl = claims.check(coll, SCALE)
    rows = {(r["claim"], r["metric"]): r for _, r in cl.iterrows()}
    v = {k: r["verdict"] for k, r in rows.items()}
    # syn_code has per-item scores: SILU passes items 0–79 at every seed, Swi+FT items 0–69/74/79.
    # Differences 0.10, 0.05, 0.00: paired over 3 seeds and 100 items (the items' own spread counts too).
    r = rows[("SILU ≥ Swi+FT", "syn_code pass@1 % ↑")]
    assert (r["seeds"], r["items"], r["diff"], r["margin"]) == (3, 100, "+5.0", "±5.0")
    d = paired_diff([[float(i < 80) for i in range(100)]] * 3,
                    [[float(i < k) for i in range(100)] for k in (70, 75, 80)])
    assert r["ci95"] == f"[{100 * d.lo:+.1f}, {100 * d.hi:+.1f}]" and d.method == "seeds+items"
    assert v[("SILU ≥ Swi+FT", "syn_code pass@1 % ↑")] == "holds"  # the CI's lower end is above −5 points
    assert v[("StochA > RELU", "syn_code pass@1 % ↑")] == "undecided"  # +14 points, but RELU's seeds vary
    # Swi+FT vs StochA on syn_code: per-seed differences −0.02, +0.01, +0.04 → an interval wider than ±5.
    assert v[("Swi+FT ≈ StochA", "syn_code pass@1 % ↑")] == "undecided"
    # syn_reason has no per-item scores: paired over seeds, constant differences → exact intervals.
    assert v[("SILU ≥ Swi+FT", "syn_reason EM % ↑")] == "holds"
    assert v[("Swi+FT ≈ StochA", "syn_reason EM % ↑")] == "holds"  # −1 point exactly, inside ±5
    assert v[("StochA > RELU", "syn_reason EM % ↑")] == "holds"
    assert rows[("StochA > RELU", "syn_reason EM % ↑")]["note"] == "no per-item scores: interval over seeds only"
    # val loss (lower is better, B − A): SILU 1.40 vs Swi+FT 1.45–1.47 → +0.06 ± 0.025: not inferior.
    assert v[("SILU ≥ Swi+FT", "val loss ↓")] == "holds"
    assert v[("StochA > RELU", "val loss ↓")] == "holds"  # +0.07 at every seed
    # bits per byte: one seed and no per-item scores: listed, but no verdict is counted.
    bpb = cl[cl["metric"] == "stdlib_bpb bpb ↓"]
    assert (bpb["verdict"] == "no interval").all() and (bpb["ci95"] == "–").all()
    sp = cl[cl["claim"].str.startswith("sparsity")].set_index("a")["verdict"].to_dict()
    # 84.6% − 3 points = 81.6%: Swi+FT 88.0 ± 5.0 and StochA 91.0 ± 2.5 both lie above it.
    assert sp == {"Swi+FT(α=0.05): 88.0%": "holds", "StochA(p=0.7, α=0.05): 91.0%": "holds"}
    rec = cl[cl["claim"] == "loss spike at the switch recovers"]
    assert rec["verdict"].tolist() == ["holds", "no interval"]
    assert rec["seeds"].tolist() == [3, 1] and "1 seed" in rec["note"].iloc[1]
    s = claims.summary(cl).set_index("claim")
    # syn_code undecided; syn_reason, val loss hold; bits per byte without an interval.
    assert s.loc["StochA > RELU"].tolist() == [2, 0, 1, 1]  # holds, does not hold, undecided, no interval
    md = claims.to_markdown(cl, SCALE)
    assert "(1 without an interval, not counted)" in md and "margins: pass@1 ±0.05" in md


def test_items_of_different_item_sets_are_not_paired(tmp_path):
    """Same ids, different items (another data seed): compared seed by seed, not item by item."""
    root = tmp_path / "r"
    for model, sha, k in (("swi-ft-a0.05", "aaa", 2), ("stocha-p0.7-a0.05", "bbb", 1)):
        for seed in range(2):
            r = _result("eval", model, seed, "syn_code", [metric("pass@1", (k + seed) / 4, n=4, n_total=4)],
                        items=_passes_first(k + seed, n=4))
            r["suite"]["dataset"] = {"name": "x", "sha256": sha}
            write_result(r, root / f"{model}{seed}.json")
    cl = claims.check(load(root), SCALE)
    assert cl["items"].tolist() == ["–"] and cl["note"].tolist() == ["no per-item scores: interval over seeds only"]


def test_claim_means_are_over_the_seeds_the_difference_pairs(tmp_path):
    """A grid half-way: B has a third seed that A lacks. The difference pairs seeds 0 and 1 only, so the
    means shown beside it are over seeds 0 and 1 too — else "A: 50, B: 40, diff −10" would be printed."""
    root = tmp_path / "r"
    for model, vals in (("swi-ft-a0.05", [0.5, 0.5]), ("stocha-p0.7-a0.05", [0.6, 0.6, 0.0])):
        for seed, v in enumerate(vals):
            write_result(_result("eval", model, seed, "syn_reason", [metric("exact_match", v, n=4, n_total=4)]),
                         root / f"{model}{seed}.json")
    cl = claims.check(load(root), SCALE)
    row = cl.iloc[0]
    assert (row["a"], row["b"], row["diff"], row["seeds"]) == ("Swi+FT(α=0.05): 50.0",
                                                               "StochA(p=0.7, α=0.05): 60.0", "-10.0", 2)


def test_a_suite_at_its_floor_decides_nothing(tmp_path):
    """Both recipes score 0 on every item (HumanEval at small scale): no verdict, not "≈ holds"."""
    root = tmp_path / "r"
    zeros = {"metric": "pass@1", "ids": ["a", "b", "c"], "values": [0.0, 0.0, 0.0]}
    for model in ("swi-ft-a0.05", "stocha-p0.7-a0.05"):
        for seed in range(3):
            write_result(_result("eval", model, seed, "humaneval", [metric("pass@1", 0.0, n=3, n_total=3)],
                                 items=zeros), root / f"{model}{seed}.json")
    cl = claims.check(load(root), SCALE)
    assert cl["verdict"].tolist() == ["no interval"] and "cannot tell" in cl["note"].iloc[0]


def test_sparsity_claim_is_the_papers_figure_with_its_tolerance(tmp_path):
    """The paper: ~85–90% zero, 84.6% at p = 0.7, α = 0.05. 83% is within its 3-point tolerance (81.6%);
    the old fixed 85% threshold called that a failure."""
    assert specs.SPARSITY_CLAIM == 0.846 and specs.SPARSITY_TOLERANCE == 0.03
    root = tmp_path / "r"
    for seed, sp in enumerate([0.825, 0.83, 0.835]):
        write_result(_result("profile", "stocha-p0.7-a0.05", seed, "profile", [metric("sparsity", sp)]),
                     root / f"{seed}.json")
    cl = claims.check(load(root), SCALE)
    assert cl["verdict"].tolist() == ["holds"] and cl["diff"].tolist() == ["-1.6"]


def test_claims_without_runs_is_empty_not_an_error(tmp_path):
    root = tmp_path / "r"
    write_result(_result("eval", "relu", 0, "syn_code", [metric("pass@1", 0.5)]), root / "a.json")
    cl = claims.check(load(root), SCALE)
    assert cl.empty and "No claim" in claims.to_markdown(cl, SCALE)


def _xy(artist) -> list[float]:
    """x, y pairs of a line (or an errorbar's data line), flattened for pytest.approx."""
    return artist.get_xydata().ravel().tolist()


def _series(ax):
    return [c.get_label() for c in ax.containers]


def test_sparsity_vs_quality_figure(coll):
    fig = plots.sparsity_vs_quality(coll, SCALE)
    axes = [a for a in fig.axes if a.get_visible()]
    assert [a.get_ylabel() for a in axes] == ["syn_code pass@1 % ↑", "syn_reason EM % ↑", "val loss ↓",
                                              "stdlib_bpb bpb ↓"]
    ax = axes[0]
    assert ax.get_xlabel() == "FFN sparsity (%)"
    assert _series(ax) == ["RELU", "SILU", "Swi+FT(α=0.05)", "StochA(p=0.7, α=0.05)"]  # GELU: no profile
    relu = ax.containers[0]
    assert _xy(relu.lines[0]) == pytest.approx([72.0, 60.0])
    front = [ln for ln in ax.get_lines() if ln.get_label() == plots.PARETO_LABEL][0]
    assert _xy(front) == pytest.approx([0.0, 80.0, 88.0, 75.0, 91.0, 74.0])


def test_pareto_front_respects_direction():
    pts = [(0.0, 1.8), (72.0, 2.0), (88.0, 1.9), (91.0, 1.85)]
    assert pareto_front(pts, higher_is_better=False) == [(0.0, 1.8), (91.0, 1.85)]
    assert pareto_front([(1, 1), (1, 1), (0, 0)]) == [(1, 1)]
    assert plots.pareto_front is pareto_front  # one dominance test, shared by the figures and the tables


def test_mark_frontier_is_membership_in_the_pareto_front():
    from reports.diversity import Point, mark_frontier

    xy = {"a": (0.1, 0.5), "b": (0.1, 0.5), "c": (0.3, 0.4), "d": (0.2, 0.3), "e": (0.3, 0.2),
          "nan": (math.nan, 0.9), "none": (0.9, None)}
    pts = [Point("m", "s", "temperature", k, 0.0, 1,
                 {n: v for n, v in zip(("edit_distance", "pass@1"), xy_) if v is not None}, {})
           for k, xy_ in xy.items()]
    mark_frontier(pts, "pass@1")
    # a and b tie on both (both kept); d is beaten by c, e by c; nan and none compete with nobody
    assert [p.setting for p in pts if p.frontier] == ["a", "b", "c"]
    assert pareto_front([xy[k] for k in "abcde"]) == [(0.1, 0.5), (0.3, 0.4)]


def test_loss_curve_figure_marks_switch(coll):
    fig = plots.loss_curves(coll, SCALE)
    assert len(fig.axes) == 2 and fig.axes[1].get_title() == "around the switch"
    ax = fig.axes[0]
    labels = [ln.get_label() for ln in ax.get_lines() if not ln.get_label().startswith("_")]
    # StochA logged a curve for one seed only.
    assert labels == ["RELU (3 seeds)", "SILU (3 seeds)", "Swi+FT(α=0.05) (3 seeds)", "StochA(p=0.7, α=0.05)"]
    sw = [ln for ln in ax.get_lines() if ln.get_label() == "Swi+FT(α=0.05) (3 seeds)"][0]
    assert sw.get_ydata()[0] == pytest.approx(3.01)  # mean of 3.00, 3.01, 3.02
    vlines = [ln for ln in ax.get_lines() if ln.get_label().startswith("_") and len(set(ln.get_xdata())) == 1]
    assert {float(ln.get_xdata()[0]) for ln in vlines} == {60.0}


def test_per_layer_and_speedup_figures(coll, tmp_path):
    fig = plots.per_layer_sparsity(coll, SCALE)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "layer" and ax.get_ylabel() == "FFN sparsity (%)"
    st = [c for c in ax.containers if c.get_label() == "StochA(p=0.7, α=0.05)"][0]
    assert _xy(st.lines[0]) == pytest.approx([0, 89.0, 1, 93.0])

    write_result(make_result("bench", run={"scale": "-", "model": "ffn", "seed": 0},
                             suite={"name": "bench_ffn", "version": "1"}, provenance={},
                             metrics=[metric("speedup", 2.1, sparsity=0.9, d=2048),
                                      metric("speedup", 1.4, sparsity=0.5, d=2048)]),
                 pathlib.Path(coll.root) / "bench.json")
    fig = plots.speedup_vs_sparsity(load(coll.root))
    ax = fig.axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    ideal = lines[plots.IDEAL_LABEL]
    x, y = ideal.get_xdata(), ideal.get_ydata()
    near90 = list(x).index(min(x, key=lambda v: abs(v - 90)))
    assert y[0] == pytest.approx(1.0) and y[near90] == pytest.approx(2.5, abs=0.02)
    assert _xy(lines[plots.PAPER_LABEL]) == pytest.approx([90.0, 1.65])
    assert _xy(lines[plots.BENCH_LABELS["torch"]]) == pytest.approx([90, 2.1, 50, 1.4])
    pts = sorted(pt for _, pt in _speed_points(ax, "FFN vs torch dense").items())
    assert [v for pt in pts for v in pt] == pytest.approx([0.0, 1.0, 72.0, 1.5, 88.0, 1.8, 91.0, 1.9])
    assert plots.quality_vs_diversity(coll, SCALE) is None  # no diversity results: skipped


def _speed_points(ax, series: str) -> dict[str, tuple[float, float]]:
    """speedup_vs_sparsity: variant label → (x, y) of one series' point (one errorbar per variant)."""
    out = {}
    for c in ax.containers:
        name, _, variant = c.get_label().partition(": ")
        if name == series:
            out[variant] = tuple(c.lines[0].get_xydata()[0].tolist())
    return out


def _legend_texts(fig) -> list[str]:
    return [t.get_text() for leg in fig.legends for t in leg.get_texts()]


def _speed_profile(model, seed, s, torch_x, same, decode):
    """A profile result as the profiler writes it: per-width rows (a breakdown; d = 1024 and 4096 differ
    from the headline) and then the width-less headline rows at d = 2048."""
    rows = [metric("sparsity", s)]
    for d, f in ((1024, 0.5), (2048, 1.0), (4096, 1.5)):
        rows += [metric("ffn_speedup", torch_x * f, width=d, sparsity=s),
                 metric("ffn_speedup_same_gemv", same * f, width=d, sparsity=s),
                 metric("ffn_speedup_bound", 3 / (1 + 2 * (1 - s)), width=d, sparsity=s)]
    rows += [metric("ffn_speedup", torch_x), metric("ffn_speedup_same_gemv", same),
             metric("ffn_speedup_bound", 3 / (1 + 2 * (1 - s))), metric("decode_speedup_kernel", decode),
             metric("decode_speedup", 1.0)]  # enable_sparse's own choice: not the figure's series
    return _result("profile", model, seed, "profile", rows)


DECODE = "decode, sparse kernel forced (whole model)"


def test_profile_v2_decode_speedup_is_read_as_the_forced_kernel(tmp_path):
    """Profile v2 measured decoding with the sparse kernel forced and called it decode_speedup; from v3 that
    name is enable_sparse's own choice (1.0 where it keeps dense). A v2 value must not enter that column."""
    v2 = _result("profile", "relu", 0, "profile", [metric("decode_speedup", 0.85)])
    v2["suite"]["version"] = "2"
    v3 = _result("profile", "relu", 1, "profile", [metric("decode_speedup", 1.0),
                                                   metric("decode_speedup_kernel", 0.9)])
    v3["suite"]["version"] = "3"
    write_result(v2, tmp_path / "a.json")
    write_result(v3, tmp_path / "b.json")
    m = load(tmp_path).metrics.set_index(["seed", "metric"])["value"]
    assert m[(0, "decode_speedup_kernel")] == 0.85 and (0, "decode_speedup") not in m.index
    assert m[(1, "decode_speedup")] == 1.0 and m[(1, "decode_speedup_kernel")] == 0.9


def test_speedup_figure_two_series_at_headline_width(tmp_path):
    """The speed-up against torch's dense FFN sits above the byte bound (its baseline is slower than the
    kernel's own GEMV): the figure must show the same-GEMV series the bound is about, separately, and only
    the d = 2048 headline rows, never the per-width breakdown."""
    root = tmp_path / "r"
    for seed in range(3):
        write_result(_speed_profile("relu", seed, 0.58 + 0.02 * seed, 1.9 + 0.1 * seed, 1.4 + 0.1 * seed, 1.1),
                     root / f"relu{seed}.json")
        write_result(_speed_profile("stocha-p0.7-a0.05", seed, 0.9, 2.6, 2.2, 1.3), root / f"st{seed}.json")
        write_result(_speed_profile("gelu", seed, 0.5, 9.0, 9.0, 9.0), root / f"gelu{seed}.json")
    write_result(make_result("bench", run={"scale": "-", "model": "ffn", "seed": 0},
                             suite={"name": "bench_ffn", "version": "1"}, provenance={},
                             metrics=[metric("speedup", 2.1, sparsity=0.9, d=2048),
                                      metric("speedup_same_gemv", 1.8, sparsity=0.9, d=2048),
                                      metric("layer_speedup", 1.3, sparsity=0.9, d=2048)]),
                 root / "bench.json")
    c = load(root)
    gelu = c.metrics["model"] == "gelu"  # as if scored with another activation: must not be drawn
    c.metrics.loc[gelu, "eval_act_default"] = False
    fig = plots.speedup_vs_sparsity(c)
    ax = fig.axes[0]
    relu, st = "RELU", "StochA(p=0.7, α=0.05)"
    assert _speed_points(ax, "FFN vs torch dense") == {relu: pytest.approx((60.0, 2.0)), st: pytest.approx((90.0, 2.6))}
    assert _speed_points(ax, "FFN sparsity only (same GEMV)") == {relu: pytest.approx((60.0, 1.5)),
                                                                  st: pytest.approx((90.0, 2.2))}
    assert _speed_points(ax, DECODE) == {relu: pytest.approx((60.0, 1.1)), st: pytest.approx((90.0, 1.3))}
    markers = {c.get_label().partition(": ")[0]: c.lines[0].get_marker() for c in ax.containers}
    assert len(set(markers.values())) == 3  # one marker per series
    texts = _legend_texts(fig)
    for label in ("FFN vs torch dense", "FFN sparsity only (same GEMV)", DECODE, plots.IDEAL_LABEL,
                  plots.PAPER_LABEL, plots.BENCH_LABELS["torch"], plots.BENCH_LABELS["same_gemv"]):
        assert label in texts
    assert "sparsity only" in plots.IDEAL_LABEL and "bound" in plots.IDEAL_LABEL
    assert "quoted" in plots.PAPER_LABEL and "baseline unknown" in plots.PAPER_LABEL
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert _xy(lines[plots.PAPER_LABEL]) == pytest.approx([90.0, 1.65])
    assert _xy(lines[plots.BENCH_LABELS["torch"]]) == pytest.approx([90, 2.1])
    assert _xy(lines[plots.BENCH_LABELS["same_gemv"]]) == pytest.approx([90, 1.8])  # the layer speed-up: not FFN
    assert "GELU" not in texts and not [c for c in ax.containers if "GELU" in c.get_label()]


def test_speedup_figure_labels_variants_in_a_legend_outside_the_axes(tmp_path):
    """Ten variants, nine of them at 60–70% sparsity: per-point text labels printed over each other; now
    one color per variant in a legend below the axes and one marker per series in a legend beside them."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    models = [*GRIDS["main"], "swi-ft-a0.2", "stocha-p0.7-a0.1", "stocha-p0.7-a0.2"]
    root = tmp_path / "r"
    for i, model in enumerate(models):
        s = 0.0 if model == "silu" else 0.6 + 0.01 * i
        for seed in range(2):
            write_result(_speed_profile(model, seed, s, 1.6 + 0.01 * i, 1.4 + 0.01 * i, 1.0), root / f"{i}-{seed}.json")
    fig = plots.speedup_vs_sparsity(load(root))
    ax = fig.axes[0]
    labels = [get_variant(m).label for m in models]
    assert not ax.texts  # no annotation on the points
    assert ax.get_legend() is None and len(fig.legends) == 2
    texts = _legend_texts(fig)
    assert all(lab in texts for lab in labels)
    colors = {c.get_label().partition(": ")[2]: c.lines[0].get_color() for c in ax.containers}
    assert set(colors) == set(labels) and len(set(map(str, colors.values()))) == len(labels)  # one color each
    FigureCanvasAgg(fig).draw()
    box = ax.get_window_extent()
    for leg in fig.legends:  # both legends outside the axes: they cover no point
        assert not leg.get_window_extent().overlaps(box)


def _svq_result(model, seed, suite, name, value, **kw):
    return _result("eval", model, seed, suite, [metric(name, value, n=100, n_total=100)], **kw)


def test_sparsity_vs_quality_figure_uses_only_the_recipes_own_eval_activation(tmp_path):
    """A StochA run scored with SILU at inference (eval --eval-act silu) is not StochA's point."""
    root = tmp_path / "r"
    for seed in range(2):
        for model, sp, own in (("relu", 0.7, 0.2), ("stocha-p0.7-a0.05", 0.9, 0.3)):
            write_result(_result("profile", model, seed, "profile", [metric("sparsity", sp)]), root / f"p{model}{seed}.json")
            write_result(_svq_result(model, seed, "syn_code", "pass@1", own + 0.02 * seed), root / f"e{model}{seed}.json")
        write_result(_svq_result("stocha-p0.7-a0.05", seed, "syn_code", "pass@1", 0.9, eval_act="silu"),
                     root / f"silu{seed}.json")
    fig = plots.sparsity_vs_quality(load(root), SCALE)
    ax = [a for a in fig.axes if a.get_visible()][0]
    assert _series(ax) == ["RELU", "StochA(p=0.7, α=0.05)"]
    assert _xy(ax.containers[1].lines[0]) == pytest.approx([90.0, 31.0])  # not (31 + 91) / 2
    assert not any("eval silu" in t for t in _legend_texts(fig))
    assert {"RELU", "StochA(p=0.7, α=0.05)"} <= set(_legend_texts(fig))


def test_sparsity_vs_quality_figure_leaves_out_all_zero_panels(tmp_path):
    """At the tiny scale every pass@1 is 0: such a panel is no result. A panel where only some variants
    score 0 stays; with no panel left, the figure is skipped with the reason."""
    root = tmp_path / "r"
    for seed in range(2):
        for model, sp, em in (("relu", 0.7, 0.0), ("stocha-p0.7-a0.05", 0.9, 0.2)):
            write_result(_result("profile", model, seed, "profile", [metric("sparsity", sp)]), root / f"p{model}{seed}.json")
            write_result(_svq_result(model, seed, "syn_code", "pass@1", 0.0), root / f"c{model}{seed}.json")
            write_result(_svq_result(model, seed, "syn_reason", "exact_match", em), root / f"r{model}{seed}.json")
    fig = plots.sparsity_vs_quality(load(root), SCALE)
    axes = [a for a in fig.axes if a.get_visible()]
    assert [a.get_ylabel() for a in axes] == ["syn_reason EM % ↑"]
    assert "syn_code pass@1 % ↑" in fig.get_suptitle()  # named as left out
    for p in root.glob("r*.json"):
        p.unlink()
    coll = load(root)
    assert plots.sparsity_vs_quality(coll, SCALE) is None
    entry = {stem: fig for stem, _, _, fig in plots.figures(coll)}[f"sparsity_vs_quality-{SCALE}"]
    assert entry == plots.ZERO_QUALITY_REASON == "all quality scores are zero at this scale"
    for p in root.glob("c*.json"):
        p.unlink()
    entry = {stem: fig for stem, _, _, fig in plots.figures(load(root))}[f"sparsity_vs_quality-{SCALE}"]
    assert entry == "needs profile sparsity and quality results"


def test_cli_writes_tables_figures_and_index(tmp_path):
    res = write_fixture(tmp_path / "results")
    out = tmp_path / "reports"
    r = subprocess.run([sys.executable, "-m", "reports", "all", "--results", str(res), "--out", str(out)],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    for stem in ("main", "alpha_sweep", "p_sweep", "claims"):
        for ext in ("md", "csv", "tex"):
            assert (out / "tables" / f"{stem}-{SCALE}.{ext}").stat().st_size > 0
    for stem in ("sparsity_vs_quality-tiny", "loss_curves-tiny", "per_layer_sparsity-tiny",
                 "speedup_vs_sparsity"):
        assert (out / "figures" / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
        assert (out / "figures" / f"{stem}.pdf").read_bytes()[:4] == b"%PDF"
    index = (out / "index.md").read_text()
    assert "tables/main-tiny.md" in index and "figures/loss_curves-tiny.png" in index
    assert "Quality vs diversity (tiny): skipped" in index and "data absent: make data" in index
    assert "holds on" in index  # the claims summary is inline
    man = json.loads((out / "manifest.json").read_text())
    assert {e["name"] for e in man["tables"]} == {"main", "alpha_sweep", "p_sweep", "claims"}


def test_cli_bad_input_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "reports", "tables", "--results", str(tmp_path / "nope")],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and r.stderr.startswith("error:") and len(r.stderr.strip().splitlines()) == 1
    res = write_fixture(tmp_path / "results")
    r = subprocess.run([sys.executable, "-m", "reports", "tables", "--results", str(res), "--scale", "base",
                        "--out", str(tmp_path / "o")], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "no results at scale 'base'" in r.stderr


SAMPLE = ROOT / "reports" / "sample"


@pytest.mark.skipif(not any(SAMPLE.rglob("*.json")), reason="no committed sample results yet")
def test_committed_sample_tables_match_raw_json():
    """Each main-table cell of the committed small set = the mean over seeds read straight from the JSON."""
    coll = load(SAMPLE)
    raw = {}
    for p in SAMPLE.rglob("*.json"):
        d = json.loads(p.read_text())
        if d.get("schema") != "sparsebench.result/1" or d["status"] != "ok" or d["kind"] == "bench":
            continue
        if d["run"].get("eval_act_default") is False:  # another row's (eval --eval-act / --predictor)
            continue
        seen = set()  # the headline rule: the first overall (not per-layer/family/module) row of a metric
        for m in d["metrics"]:
            if any(m.get(k) is not None for k in collect.BREAKDOWN_KEYS) or m["name"] in seen:
                continue
            seen.add(m["name"])
            if m["name"] in ("pass@1", "exact_match", "acc", "val_loss", "sparsity"):
                if m.get("n") is not None and m.get("n_total") is not None and m["n"] < m["n_total"]:
                    continue
                key = (d["run"]["scale"], d["run"]["model"], d["suite"]["name"], m["name"])
                raw.setdefault(key, []).append(m["value"])
    assert raw, "the sample holds no tabulated metrics"
    checked = 0
    for scale in coll.scales:
        td = tables.build(coll, specs.TABLES["main"], scale)
        for col in td.columns:
            for row in td.rows:
                c = td.cell(row.key, col.id)
                if row.quoted or c is None:
                    continue
                suite = col.suite or col.rule.kind
                vals = raw.get((scale, row.key, suite, col.rule.metric))
                if vals is None:
                    continue
                assert c.mean == pytest.approx(sum(vals) / len(vals)) and c.n == len(vals)
                checked += 1
    assert checked > 0


# ---- the generation-diversity study ---------------------------------------------------------------
DIV_MODEL = "stocha-p0.7-a0.05"
# (method, setting, parameter fields, pass@1, pass@10, edit distance) of syn_code, one seed, stderr 0.05.
DIV_CODE = [("greedy", "greedy", {}, 0.30, 0.30, 0.0),
            ("stocha", "p'=0.1", {"act_p": 0.1}, 0.32, 0.40, 0.10),
            ("stocha", "p'=0.5", {"act_p": 0.5}, 0.20, 0.50, 0.40),
            ("temperature", "T=0.4", {"temperature": 0.4}, 0.28, 0.45, 0.20),
            ("temperature", "T=1", {"temperature": 1.0}, 0.10, 0.50, 0.70),
            ("top_p", "top-p=0.9", {"temperature": 1.0, "top_p": 0.9}, 0.18, 0.48, 0.35)]


def _div_result(suite, seed, method, setting, fields, metrics):
    run = {"scale": SCALE, "model": DIV_MODEL, "seed": seed, "step": 100, "variant": get_variant(DIV_MODEL).to_dict(),
           "eval_act": "relu"}
    extra = {"method": method, "setting": setting, "act_p": None, "temperature": 0.0, "top_p": 1.0, **fields}
    return make_result("diversity", run=run, suite={"name": suite, "version": "1", "params": {"k": 10}},
                       metrics=[{**m, **extra} for m in metrics], provenance={})


def write_diversity_fixture(root):
    for i, (method, setting, fields, p1, p10, edit) in enumerate(DIV_CODE):
        ms = [metric("pass@1", p1, stderr=0.05, n=50, n_total=50, k=1),
              metric("pass@10", p10, stderr=0.05, n=50, n_total=50, k=10),
              metric("functional_diversity", 1.0 + 10 * edit, n=50, n_total=50),
              metric("edit_distance", edit, stderr=0.01, n=50, n_total=50),
              metric("distinct_2", edit / 2, n=50, n_total=50)]
        write_result(_div_result("syn_code", 0, method, setting, fields, ms), root / f"d{i:02d}.json")
    for seed, em in ((0, 0.2), (1, 0.3)):  # two seeds of one reasoning setting: a CI over seeds
        ms = [metric("exact_match", em, stderr=0.05, n=50, n_total=50),
              metric("any@10", em + 0.4, n=50, n_total=50, k=10), metric("edit_distance", 0.5, n=50, n_total=50)]
        write_result(_div_result("syn_reason", seed, "temperature", "T=1", {"temperature": 1.0}, ms),
                     root / f"r{seed}.json")
    return root


def test_diversity_table_and_frontier(tmp_path):
    from reports import diversity

    coll = load(write_diversity_fixture(tmp_path / "res"))
    blocks = diversity.points(coll, SCALE)
    assert list(blocks) == [(DIV_MODEL, "syn_code"), (DIV_MODEL, "syn_reason")]
    code = blocks[(DIV_MODEL, "syn_code")]
    assert [p.setting for p in code] == ["greedy", "p'=0.1", "p'=0.5", "T=0.4", "T=1", "top-p=0.9"]
    # greedy is beaten by p'=0.1 (more diverse and better), top-p=0.9 by p'=0.5
    assert [p.setting for p in code if p.frontier] == ["p'=0.1", "p'=0.5", "T=0.4", "T=1"]
    assert code[1].half["pass@1"] == pytest.approx(1.959964 * 0.05)  # one seed: the spread over prompts
    reason = blocks[(DIV_MODEL, "syn_reason")][0]
    assert reason.seeds == 2 and reason.values["exact_match"] == pytest.approx(0.25)
    assert reason.half["exact_match"] == pytest.approx(12.7062 * 0.05 * math.sqrt(2) / math.sqrt(2), rel=1e-4)
    md = diversity.to_markdown(blocks, SCALE)
    assert "| stochastic activation, greedy | p'=0.1 | 1 | 0.320 ± 0.098 | 0.400 | 2.00 | 0.100 | – | 0.050 |" in md
    assert "| greedy (recipe's activation) | greedy | 1 | 0.300 ± 0.098 | 0.300 | 1.00 | 0.000 | – | 0.000 |" in md
    assert "| EM | maj@10 | any@10 |" in md and "0.250 ± 0.635 | – | 0.650 |" in md
    assert md.count("◆") == 4 + 1 + 1  # 4 code settings, the lone reasoning setting, the legend line
    csv = pd.read_csv(__import__("io").StringIO(diversity.to_csv(blocks)))
    assert len(csv) == 7 and csv["frontier"].sum() == 5
    assert r"\diamond" not in diversity.to_latex(blocks, SCALE) and "tab:diversity-syn_code-tiny" in \
        diversity.to_latex(blocks, SCALE)


def test_quality_vs_diversity_frontier_plot(tmp_path):
    from reports import diversity

    coll = load(write_diversity_fixture(tmp_path / "res"))
    fig = plots.quality_vs_diversity(coll, SCALE)
    axes = fig.axes
    assert [a.get_title() for a in axes] == [f"{DIV_MODEL} on syn_code: pass@1", f"{DIV_MODEL} on syn_code: pass@10",
                                             f"{DIV_MODEL} on syn_reason: exact_match",
                                             f"{DIV_MODEL} on syn_reason: any@10"]
    ax = axes[0]
    assert ax.get_ylabel() == "pass@1" and "edit distance" in ax.get_xlabel()
    assert _series(ax) == ["greedy (recipe's activation)", "stochastic activation, greedy", "temperature",
                           "top-p (T = 1)"]  # one curve per method
    stocha = ax.containers[1]
    assert _xy(stocha.lines[0]) == pytest.approx([0.10, 0.32, 0.40, 0.20])  # in order of p'
    temp = ax.containers[2]
    assert _xy(temp.lines[0]) == pytest.approx([0.20, 0.28, 0.70, 0.10])
    front = [ln for ln in ax.get_lines() if ln.get_label() == plots.PARETO_LABEL][0]
    assert _xy(front) == pytest.approx([0.1, 0.32, 0.2, 0.28, 0.4, 0.2, 0.7, 0.1])
    marked = sorted((p.values["edit_distance"], p.values["pass@1"])  # the table's ◆ settings, the same set
                    for p in diversity.points(coll, SCALE)[(DIV_MODEL, "syn_code")] if p.frontier)
    assert _xy(front) == pytest.approx([v for xy in marked for v in xy])
    # pass@10 has its own front, not the pass@1 marks: T=1 alone (it ties p'=0.5 on pass@10 with more
    # diversity), so no line is drawn there
    assert pareto_front([(0.0, 0.3), (0.1, 0.4), (0.4, 0.5), (0.2, 0.45), (0.7, 0.5), (0.35, 0.48)]) == [(0.7, 0.5)]
    assert not [ln for ln in axes[1].get_lines() if ln.get_label() == plots.PARETO_LABEL]
    assert {t.get_text() for t in ax.texts} == {"greedy", "p'=0.1", "p'=0.5", "T=0.4", "T=1", "top-p=0.9"}
    assert _xy(axes[1].containers[1].lines[0]) == pytest.approx([0.10, 0.40, 0.40, 0.50])  # pass@10 panel


def test_cli_renders_the_diversity_table_and_figure(tmp_path):
    res = write_diversity_fixture(write_fixture(tmp_path / "results"))
    out = tmp_path / "reports"
    r = subprocess.run([sys.executable, "-m", "reports", "all", "--results", str(res), "--out", str(out)],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    for ext in ("md", "csv", "tex"):
        assert (out / "tables" / f"diversity-{SCALE}.{ext}").stat().st_size > 0
    assert (out / "figures" / f"quality_vs_diversity-{SCALE}.png").read_bytes()[:4] == b"\x89PNG"
    index = (out / "index.md").read_text()
    assert "### Generation diversity (tiny)" in index and "figures/quality_vs_diversity-tiny.png" in index
    main_md = (out / "tables" / f"main-{SCALE}.md").read_text()
    assert "diversity" not in main_md.lower()  # the study's results stay out of the paper tables


def test_predictor_quality_cost_is_paired_on_items(tmp_path):
    """The predictor's rows are compared with the same run's exact rows, item by item, and never enter the
    variant's own row."""
    from reports import predictor

    exact = [1, 1, 0, 1, 0, 1, 1, 0]
    pred = [1, 0, 0, 1, 0, 1, 0, 0]  # loses items 1 and 6: -25 points
    for seed in (0, 1):
        for name, vals, extra in (("syn_code", exact, {}), ("syn_code.pred", pred, {"predictor": {"rank": 8}})):
            r = _result("eval", "relu", seed, "syn_code", [metric("pass@1", sum(vals) / 8, n=8)],
                        eval_act="relu" if extra else None,
                        items={"metric": "pass@1", "ids": list(range(8)), "values": vals})
            r["run"].update(extra)
            write_result(r, tmp_path / f"{name}{seed}.json")
    c = load(tmp_path)
    assert set(c.metrics["row"]) == {"relu", "relu@relu + predictor"}
    df = predictor.quality_cost(c)
    (r,) = df.itertuples()
    assert (r.model, r.suite, r.seeds, r.items) == ("relu", "syn_code", 2, 8)
    assert r.exact == pytest.approx(62.5) and r.predictor == pytest.approx(37.5) and r.diff == pytest.approx(-25.0)
    assert r.ci95_low < -25 < r.ci95_high and r.ci95_high + 25 == pytest.approx(-25 - r.ci95_low)
    assert "-25.000" in predictor.to_markdown(df)
