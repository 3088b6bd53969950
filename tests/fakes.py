"""Test stand-ins shared by several test files."""


class Counting:
    """A ``generate_fn`` for code suites that answers every prompt with its canonical solution (so pass@1 is
    1.0) and counts its calls (so tests see what was generated again and what was reused)."""

    def __init__(self, suite):
        self.calls = 0
        self.by_prompt = {t["prompt"]: t["canonical_solution"] for t in suite.tasks()}

    def __call__(self, prompts, **kw):
        self.calls += 1
        return [self.by_prompt[p] for p in prompts]


def train_until(cfg, step: int, resume: bool = False):
    """Train ``cfg`` and stop it after optimizer step ``step`` (fault point ``train.step``), leaving what a
    kill there leaves; returns the run directory."""
    import pytest

    from harness.paths import run_dir
    from harness.train.trainer import train
    from harness.verify.crash import Stopped, stopped_at

    with pytest.raises(Stopped), stopped_at("train.step", step):
        train(cfg, progress=False, resume=resume)
    return run_dir(cfg.scale, cfg.model, cfg.seed)
