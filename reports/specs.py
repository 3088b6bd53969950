"""The paper's tables described as data: which runs are rows, which metrics are columns, quoted figures.

A table is rows (model variants) × columns (metric rules). Row lists mirror ``models.registry.GRIDS``
(reports never import ``models``, which needs torch; a test checks the two agree). Columns are found in
the data: every eval suite that reports ``pass@1`` gets a column, and so on, so a new suite shows up in
the tables without touching this file.

Figures quoted from the paper (arXiv 2509.22358) are reference rows, marked as quoted, never bold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# ---- rows ---------------------------------------------------------------------------------------
PS = (0.3, 0.5, 0.7)
ALPHAS = (0.05, 0.1, 0.2)
GRIDS: dict[str, list[str]] = {
    "main": ["relu", "silu", "swi-ft-a0.05", "swi-ft-a0.1"] + [f"stocha-p{p:g}-a0.05" for p in PS],
    "alpha_sweep": [f"swi-ft-a{a:g}" for a in ALPHAS] + [f"stocha-p0.7-a{a:g}" for a in ALPHAS],
    "p_sweep": [f"stocha-p{p:g}-a{a:g}" for p in PS for a in (0.05, 0.1)],
}
_RECIPE_ORDER = ("relu", "silu", "gelu", "swi-ft", "stocha")


def _default_stocha(v: dict) -> bool:
    return v.get("recipe") == "stocha" and v.get("mode", "neg") == "neg" and \
        v.get("granularity", "element") == "element"


def _near(x, values) -> bool:
    return x is not None and any(abs(float(x) - v) < 1e-9 for v in values)


# ---- columns ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ColumnRule:
    """Metric rows (kind, metric name) → one column per suite (one column in all if not ``per_suite``).

    ``scale`` multiplies values for display (100 → percent); ``group`` says what the column measures
    (quality columns enter the claims, sparsity/speed columns do not).
    """

    kind: str
    metric: str
    header: str  # "{suite}" is replaced by the suite name
    scale: float = 1.0
    decimals: int = 1
    group: str = "quality"  # quality | sparsity | speed
    per_suite: bool = True


COLUMN_RULES: tuple[ColumnRule, ...] = (
    ColumnRule("eval", "pass@1", "{suite} pass@1 %", scale=100),
    ColumnRule("eval", "exact_match", "{suite} EM %", scale=100),
    ColumnRule("eval", "acc", "{suite} acc %", scale=100),
    ColumnRule("train", "val_loss", "val loss", decimals=3, per_suite=False),
    ColumnRule("eval", "bits_per_byte", "{suite} bpb", decimals=3),
    ColumnRule("profile", "sparsity", "FFN sparsity %", scale=100, group="sparsity", per_suite=False),
    # FFN speed-ups at the profiler's headline width (d = 2048) with the run's firing rates: against torch's
    # dense FFN, and against the same kernel with no neuron skipped (the gain from sparsity alone, the one
    # the byte bound 3/(1+2(1−s)) applies to); then decoding the trained model itself.
    ColumnRule("profile", "ffn_speedup", "FFN × vs torch dense", decimals=2, group="speed", per_suite=False),
    ColumnRule("profile", "ffn_speedup_same_gemv", "FFN × sparsity only (same GEMV)", decimals=2, group="speed",
               per_suite=False),
    ColumnRule("profile", "ffn_speedup_bound", "FFN × bound", decimals=2, group="speed", per_suite=False),
    # Decoding with the sparse kernel forced on every FFN (what skipping zeros does at the trained shape);
    # enable_sparse's own choice keeps dense where that loses, so its decode_speedup is 1.0 there.
    ColumnRule("profile", "decode_speedup_kernel", "decode × sparse kernel", decimals=2, group="speed",
               per_suite=False),
)
# Code suites before reasoning suites inside a rule's columns; unknown suites follow alphabetically.
SUITE_ORDER = ("syn_code", "humaneval", "humaneval_plus", "mbpp_plus", "syn_reason", "gsm8k_100", "gsm8k",
               "syn_choice", "stdlib_bpb")


def column_id(rule: ColumnRule, suite: str | None) -> str:
    """Stable key of a column: ``kind/suite/metric`` (suite omitted for single columns)."""
    return f"{rule.kind}/{suite}/{rule.metric}" if rule.per_suite else f"{rule.kind}/{rule.metric}"


# ---- tables -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReferenceRow:
    """A row of figures quoted from the paper (never measured here); values keyed by column id."""

    label: str
    values: dict
    source: str


@dataclass(frozen=True)
class TableSpec:
    name: str
    title: str
    variants: tuple[str, ...]  # rows in this order (those that were run)
    include: Callable[[dict], bool] | None = None  # further runs to add, judged by their variant fields
    references: tuple[ReferenceRow, ...] = field(default_factory=tuple)


PAPER = "Stochastic activations, arXiv 2509.22358"
PAPER_SPARSITY = 0.846  # p = 0.7, α = 0.05, RELU at inference
PAPER_CPU_SPEEDUP = 1.65  # FFN on CPU
PAPER_SPEEDUP_SPARSITY = 0.90  # the sparsity the 1.65× was reported at (~90%)
REFERENCE = ReferenceRow(
    label="StochA(p=0.7, α=0.05), paper (quoted)",
    values={"profile/sparsity": PAPER_SPARSITY, "profile/ffn_speedup": PAPER_CPU_SPEEDUP},  # baseline unknown
    source=f"{PAPER}: 84.6% FFN sparsity at p = 0.7, α = 0.05; 1.65× CPU speed-up at ~90% sparsity "
           "(1.5B/3B models, Llama-3 tokenizer; not comparable in scale to our runs)",
)

TABLES: dict[str, TableSpec] = {
    "main": TableSpec("main", "Main table: quality, sparsity and CPU speed-up per recipe",
                      tuple(GRIDS["main"]), include=lambda v: True, references=(REFERENCE,)),
    "alpha_sweep": TableSpec(
        "alpha_sweep", "α-sweep: fraction of final steps fine-tuned with RELU", tuple(GRIDS["alpha_sweep"]),
        include=lambda v: v.get("recipe") == "swi-ft" or (_default_stocha(v) and _near(v.get("p"), (0.7,)))),
    "p_sweep": TableSpec(
        "p_sweep", "p-sweep: probability of the SILU branch in StochA", tuple(GRIDS["p_sweep"]),
        include=lambda v: _default_stocha(v) and _near(v.get("alpha"), (0.05, 0.1))),
}

# ---- claims -------------------------------------------------------------------------------------
# The variants standing for each recipe in "SILU ≥ Swi+FT ≈ StochA > RELU" (the paper's headline point).
CLAIM_VARIANTS = {"SILU": "silu", "Swi+FT": "swi-ft-a0.05", "StochA": "stocha-p0.7-a0.05", "RELU": "relu"}


@dataclass(frozen=True)
class Margin:
    """Equivalence / non-inferiority margin of one metric: differences inside ±value count as "no real
    difference" (in the metric's own units: 0.05 = 5 points of a score)."""

    value: float
    reason: str


# The one table of margins, by metric name. "A ≈ B" holds only when the whole 95% interval of A − B lies
# inside ±margin; "A ≥ B" when its worse end is above −margin (reports.stats.verdict).
MARGINS: dict[str, Margin] = {
    "pass@1": Margin(0.05, "5 points: the paper's quality claims separate recipes by several points, and 5 is "
                           "about the smallest gap 3 seeds × 600 items resolve at this scale (see each row's mde)"),
    "exact_match": Margin(0.05, "5 points, as for pass@1"),
    "acc": Margin(0.05, "5 points, as for pass@1 (multiple choice: 25% is chance)"),
    "val_loss": Margin(0.02, "0.02 nats/token (~0.03 bits per byte): about the seed-to-seed spread of one "
                             "recipe's final loss here, and under the loss gap between RELU and SILU runs"),
    "bits_per_byte": Margin(0.03, "0.03 bits per byte, the val-loss margin in bits per byte (0.02 nats/token)"),
}

# The paper's sparsity claim as it states it: "about 85–90% of FFN activations are zero" with RELU at
# inference, the one exact figure being 84.6% at p = 0.7, α = 0.05 (1.5B/3B models). A run meets it when
# its sparsity is at least that figure minus the tolerance.
SPARSITY_CLAIM = PAPER_SPARSITY
SPARSITY_TOLERANCE = 0.03  # the paper's "about": its own range starts at 84.6% for a "~85–90%" claim
# "Recovered" = the loss at the end of training is within this fraction of the loss just before the switch.
RECOVERY_TOLERANCE = 0.02


def row_sort_key(model: str, v: dict) -> tuple:
    r = v.get("recipe")
    return (_RECIPE_ORDER.index(r) if r in _RECIPE_ORDER else len(_RECIPE_ORDER),
            v.get("p") if v.get("p") is not None else -1, v.get("alpha") or 0.0, model)


def label(model: str, v: dict | None = None) -> str:
    """The paper's notation for a run (same as ``models.registry.Variant.label``)."""
    v = v or {}
    r = v.get("recipe")
    if r == "swi-ft":
        return f"Swi+FT(α={v['alpha']:g})"
    if r == "stocha":
        extra = "".join(f", {v[k]}" for k, d in (("mode", "neg"), ("granularity", "element"))
                        if v.get(k, d) != d)
        return f"StochA(p={v['p']:g}, α={v['alpha']:g}{extra})"
    if r in ("relu", "silu", "gelu"):
        return r.upper()
    return model
