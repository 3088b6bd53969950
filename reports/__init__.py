"""Tables and figures from result JSON files only (never imports torch, models or suites).

    python -m reports tables|plots|all [--results out/results] [--out out/reports]

``collect`` (results → tidy DataFrame), ``stats`` (mean ± 95% CI), ``specs`` (the paper tables as data),
``tables``, ``claims``, ``plots``, ``index`` (the one-page out/reports/index.md).
"""
