"""`harness bench` produces the documented JSON fields from a tiny configuration (no timing assertions)."""

import json

import pytest

from harness.__main__ import main
from harness.profiling import act, benchmarks, ffn

TINY = dict(d=64, repeats=1, min_bytes=1e5, kv_len=8, bandwidth_bytes=1 << 20)
FIELDS = ("speedup", "layer_speedup", "ideal", "bandwidth_fraction_sparse", "threads", "dtype", "d", "sparsity",
          "dense_ms", "sparse_ms", "read_bandwidth_gbs", "cpu", "load_avg", "measured_sparsity", "spread")


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_bench_ffn_fields(dtype):
    r = ffn.bench_ffn(sparsity=0.9, dtype=dtype, **TINY)
    for k in FIELDS:
        assert k in r, k
    assert r["d"] == 64 and r["dtype"] == dtype and r["threads"] == 1 and r["sparsity"] == 0.9
    assert 0.8 < r["measured_sparsity"] < 0.97  # the gate bias gives the requested sparsity
    assert r["ideal"] == pytest.approx(3 / (1 + 2 * r["union_density"]))
    assert r["union_density"] == pytest.approx(1 - r["measured_sparsity"])  # batch 1: one row's active set
    assert r["max_rel_err"] < (1e-5 if dtype == "fp32" else 5e-2)  # the timed path is the exact one
    assert r["stream_bytes"] >= 1e5 and r["layer_speedup"] > 0


def test_bench_ffn_batch_reports_union():
    r = ffn.bench_ffn(sparsity=0.95, batch=4, layer=False, **TINY)
    assert r["batch"] == 4 and r["layer_speedup"] is None
    assert r["union_density"] >= 1 - r["measured_sparsity"]  # the union is at least one row's active set
    # The bound of a batch counts the union's rows, not one row's: lower than the per-row figure.
    assert r["ideal"] == pytest.approx(3 / (1 + 2 * r["union_density"]))
    assert r["ideal"] < 3 / (1 + 2 * (1 - r["measured_sparsity"]))


def test_bench_ffn_stops_when_the_sparse_path_is_wrong(monkeypatch):
    from models import sparse as sp

    real = sp.sparse_ffn
    monkeypatch.setattr(sp, "sparse_ffn", lambda ff, x: real(ff, x) * 1.001)  # a 0.1% error
    with pytest.raises(RuntimeError, match="differs from the dense one"):
        ffn.bench_ffn(sparsity=0.9, **TINY)


def test_neuron_rates_follow_a_profile():
    r = ffn.neuron_rates(1000, 0.9, profile_rates=[0.0, 0.05, 0.25])
    assert r.shape == (1000,) and abs(r.mean().item() - 0.1) < 1e-3 and (r == 0).any()


def test_bad_arguments_fail_with_one_line(capsys):
    assert main(["bench", "ffn", "--d", "64", "--sparsity", "1.5"]) == 2
    assert "sparsity must be in [0, 1)" in capsys.readouterr().err


def test_cli_ffn_json_and_file(out_dir, capsys):
    rc = main(["bench", "ffn", "--d", "64", "--sparsity", "0.8", "--repeats", "1", "--stream-mb", "0.1",
               "--kv-len", "8", "--json"])
    assert rc == 0
    r = json.loads(capsys.readouterr().out)
    for k in FIELDS:
        assert k in r
    saved = json.loads(open(r["path"]).read())
    assert saved["speedup"] == r["speedup"] and str(out_dir) in r["path"]


def test_act_and_all_quick(out_dir, monkeypatch):
    a = act.bench_act((2, 8, 16), repeats=1)
    assert {"silu_ms", "stochastic_ms", "ratio_vs_silu", "target"} <= set(a)
    assert benchmarks._part(lambda: {"x": 1}) == {"status": "ok", "x": 1}
    assert benchmarks._part(lambda: 1 / 0)["status"] == "error"  # one failing part keeps the others
    r = benchmarks.bench_all(quick=True)
    assert r["ffn_t1"]["threads"] == 1 and r["ffn_t2"]["threads"] == 2 and "ratio_vs_silu" in r["act"]
