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
