"""Everything the harness can measure: the one dict ``SUITES`` (name → Suite class).

    >>> from suites import SUITES, get_suite
    >>> sorted(SUITES)[:3]
    ['gsm8k_100', 'humaneval', 'humaneval_plus']
    >>> get_suite("lm_eval:arc_easy").name     # any lm-eval task by name
    'lm_eval_arc_easy'

``DEFAULT_SUITES`` is what ``python -m harness eval`` runs without ``--suites``: every embedded suite
plus ``humaneval`` and ``gsm8k_100`` (the evalplus suites run when their data is present, else they are
recorded as skipped).
"""

from __future__ import annotations

from suites.base import EvalContext, SkipSuite, Suite
from suites.evalplus_suites import HumanEvalPlus, MbppPlus
from suites.humaneval import HumanEval
from suites.lm_eval_task import LmEvalTask
from suites.reasoning import GSM8K100, SynReason
from suites.stdlib_bpb import StdlibBpb
from suites.syn_choice import SynChoice
from suites.syn_code import SynCode

SUITES: dict[str, type[Suite]] = {s.name: s for s in (
    SynCode, SynReason, SynChoice, StdlibBpb, HumanEval, GSM8K100, HumanEvalPlus, MbppPlus)}

DEFAULT_SUITES = ["syn_code", "syn_reason", "syn_choice", "stdlib_bpb", "humaneval", "gsm8k_100",
                  "humaneval_plus", "mbpp_plus"]


def get_suite(name: str, **params) -> Suite:
    """A suite instance by name; ``lm_eval:TASK`` wraps any lm-eval task."""
    if name.startswith("lm_eval:"):
        task = name.partition(":")[2]
        if not task:
            raise ValueError("lm_eval: needs a task name, e.g. lm_eval:arc_easy")
        return LmEvalTask(task, **params)
    if name not in SUITES:
        raise ValueError(f"unknown suite {name!r}; valid: {', '.join(SUITES)}, lm_eval:TASK")
    return SUITES[name](**params)


__all__ = ["SUITES", "DEFAULT_SUITES", "EvalContext", "SkipSuite", "Suite", "get_suite"]
