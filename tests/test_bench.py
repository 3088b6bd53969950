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


def test_bench_ffn_runs_reports_the_spread(monkeypatch):
    vals = iter([1.0, 3.0, 2.0])
    monkeypatch.setattr(ffn, "bench_ffn", lambda **kw: {"speedup": next(vals), "layer_speedup": None, "d": kw["d"]})
    r = ffn.bench_ffn_runs(3, d=64)
    assert r["runs"] == 3 and r["speedup"] == 2.0 and r["d"] == 64
    assert r["across_runs"]["speedup"] == {"min": 1.0, "median": 2.0, "max": 3.0, "values": [1.0, 3.0, 2.0]}
    assert "layer_speedup" not in r["across_runs"]
    with pytest.raises(ValueError, match="runs must be at least 1"):
        ffn.bench_ffn_runs(0, d=64)


def test_stream_size_follows_the_last_level_cache(monkeypatch):
    from harness.profiling import timing

    monkeypatch.setattr(timing, "llc_bytes", lambda: 300 << 20)  # a 300 MiB L3 holds 160 MB
    assert timing.stream_bytes(160e6) == 600 << 20
    monkeypatch.setattr(timing, "llc_bytes", lambda: 32 << 20)
    assert timing.stream_bytes(160e6) == 160e6
    monkeypatch.setattr(timing, "llc_bytes", lambda: None)  # unreadable: the fixed minimum
    assert timing.stream_bytes(160e6) == 160e6
    r = ffn.bench_ffn(sparsity=0.9, **dict(TINY, min_bytes=None), layer=False)
    assert r["min_stream_bytes"] == 160e6 and r["stream_bytes"] >= 160e6 and "llc_bytes" in r


def test_interleaved_never_runs_two_functions_on_one_copy_back_to_back():
    from harness.profiling.timing import interleaved

    seen = []
    interleaved({"a": lambda i: seen.append(("a", i)), "b": lambda i: seen.append(("b", i))}, 6, repeats=1,
                warmup=0)
    assert all(x[1] != y[1] for x, y in zip(seen, seen[1:]))  # consecutive calls: different copies
    assert sorted(i for k, i in seen if k == "a") == list(range(6)) == sorted(i for k, i in seen if k == "b")


def test_read_bandwidth_is_the_kernels_streaming_read():
    from harness.profiling.timing import read_bandwidth

    assert read_bandwidth(4 << 20, repeats=1) > 0


def test_bench_decode_small_fields_and_twin():
    from harness.profiling.decode_bench import bench_decode, summary

    r = bench_decode("small", 0.8, prompt_len=8, new_tokens=4, repeats=1, hf=True)
    assert r["weights"] == "random" and r["sparsity_requested"] == 0.8 and 0.6 < r["measured_sparsity"] < 0.95
    assert r["max_abs_logit_diff_hf"] < 1e-4  # transformers on the same tensors computes the same logits
    assert r["greedy_agree"] == 1.0  # the sparse path decodes the same tokens
    for p in ("dense", "sparse", "hf"):
        assert r["tokens_per_s"][p]["median"] > 0
    for p in ("dense", "sparse"):
        parts = r["parts_ms_per_token"][p]
        assert parts["total"] == pytest.approx(sum(v for k, v in parts.items() if k != "total"), rel=1e-6)
    b = r["bytes_per_token"]
    assert b["dense"]["ffn"] == 3 * 128 * 344 * 4 * 4 and b["sparse"]["output"] == b["dense"]["output"]
    assert b["sparse"]["ffn"] < b["dense"]["ffn"] and r["bound"] > 1
    assert r["speedup"] > 0 and r["vs_hf"] > 0 and "transformers generate" in summary(r)


def test_bench_decode_bad_input(capsys):
    assert main(["bench", "decode", "--shape", "7b"]) == 2
    assert "unknown shape '7b'; valid: small, smollm2-135m, 1.5b, 3b" in capsys.readouterr().err
    assert main(["bench", "decode", "--shape", "small", "--sparsity", "1.2"]) == 2
    assert "sparsity must be in [0, 1)" in capsys.readouterr().err


def test_bench_decode_takes_a_profiles_firing_rates(tmp_path):
    from harness.profiling.decode_bench import bench_decode
    from harness.results import make_result, metric, write_result

    # A trained model's profile: half its neurons never fire, the rest at 40% (sparsity 0.8).
    prof = make_result("profile", run={"scale": "small", "model": "relu", "seed": 0}, provenance={},
                       suite={"name": "profile", "version": "3"}, metrics=[metric("sparsity", 0.8)],
                       neuron_rates=[[0.0, 0.4] * 50])
    path = write_result(prof, tmp_path / "profile.json")
    r = bench_decode("small", None, profile=str(path), prompt_len=8, new_tokens=4, repeats=1, hf=False)
    assert r["sparsity_requested"] == 0.8 and r["profile"] == str(path) and r["measured_sparsity"] > 0.6
    write_result(make_result("eval", run={"scale": "small", "model": "relu", "seed": 0}, provenance={},
                             suite={"name": "syn_code", "version": "1"}, metrics=[]), tmp_path / "e.json")
    with pytest.raises(ValueError, match="not a profile result"):
        bench_decode("small", None, profile=str(tmp_path / "e.json"), prompt_len=8, new_tokens=4, hf=False)


def test_each_timed_function_gets_its_own_copy():
    """Four functions over two copies would put two of them on one copy back to back."""
    r = ffn.bench_ffn(sparsity=0.9, **dict(TINY, min_bytes=1), layer=False)
    assert r["copies"] >= 4
