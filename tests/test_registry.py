import json
import subprocess
import sys

import pytest

from models.registry import DEFAULT_VARIANTS, GRIDS, SCALES, Variant, get_scale, get_variant


def test_names_parse_to_recipes():
    v = get_variant("stocha-p0.7-a0.05")
    assert (v.recipe, v.p, v.alpha, v.mode, v.granularity) == ("stocha", 0.7, 0.05, "neg", "element")
    v = get_variant("stocha-p0.5-a0.1-full-tok")
    assert (v.mode, v.granularity) == ("full", "token")
    assert get_variant("stocha-p0.35-a0.15").name == "stocha-p0.35-a0.15"
    assert get_variant("swi-ft-a0.1").alpha == 0.1


def test_schedule_switch_step_and_inference_act():
    v = get_variant("stocha-p0.7-a0.05")
    assert v.switch_step(1000) == 950
    assert str(v.act_at(949, 1000)) == "stocha:p=0.7" and str(v.act_at(950, 1000)) == "relu"
    assert str(v.inference_act) == "relu"
    s = get_variant("swi-ft-a0.2")
    assert [ph["act"] for ph in s.schedule(100)] == ["silu", "relu"] and s.schedule(100)[1]["start"] == 80
    for base in ("relu", "silu", "gelu"):
        b = get_variant(base)
        assert b.switch_step(100) is None and str(b.act_at(99, 100)) == base == str(b.inference_act)
    assert get_variant("silu").inference_act.kind == "silu"


@pytest.mark.parametrize("name", DEFAULT_VARIANTS + ["stocha-p0.5-a0.1-full-tensor", "stocha-p1-a0"])
def test_variant_roundtrips_through_json(name):
    v = get_variant(name)
    d = json.loads(json.dumps(v.to_dict()))
    assert Variant.from_dict(d) == v and get_variant(d["name"]) == v


@pytest.mark.parametrize("bad", ["stocha-p1.5-a0.1", "stocha-p0.5-a1", "swi-ft-a1.0", "swi-ft", "relux",
                                 "stocha-p0.5", "stocha-p-1-a0.1", "stocha-p0.5-a0.1-half", "", "SwiGLU"])
def test_bad_names_rejected_with_valid_forms(bad):
    with pytest.raises(ValueError) as e:
        get_variant(bad)
    assert "valid" in str(e.value) or "must be in" in str(e.value)


def test_unknown_scale():
    with pytest.raises(ValueError, match="tiny, small, base, 1.5b, 3b"):
        get_scale("huge")


def test_grids_cover_the_paper_tables():
    assert GRIDS["main"][:4] == ["relu", "silu", "swi-ft-a0.05", "swi-ft-a0.1"]
    assert {"stocha-p0.3-a0.05", "stocha-p0.5-a0.05", "stocha-p0.7-a0.05"} <= set(GRIDS["main"])
    assert set(SCALES) == {"tiny", "small", "base", "1.5b", "3b"}


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True)


def test_cli_ls_json_and_errors():
    r = run_cli("ls", "--json")
    assert r.returncode == 0
    d = json.loads(r.stdout)
    names = {v["name"] for v in d["variants"]}
    assert {"relu", "silu", "swi-ft-a0.05", "swi-ft-a0.1", "stocha-p0.3-a0.05", "stocha-p0.7-a0.1"} <= names
    assert d["scales"]["1.5b"]["num_params"] > 1.4e9
    r = run_cli("ls", "stocha-p0.35-a0.15", "--json")
    v = json.loads(r.stdout)["variants"][0]
    assert v["schedule_1000_steps"][1] == {"start": 850, "end": 1000, "act": "relu"}
    r = run_cli("ls", "stocha-p1.5-a0.1")
    assert r.returncode != 0 and r.stderr.strip().count("\n") == 0 and "p must be in [0, 1]" in r.stderr
    r = run_cli("ls", "bogus")
    assert r.returncode != 0 and "valid forms" in r.stderr
