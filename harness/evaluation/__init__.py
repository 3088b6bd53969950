"""A run evaluated on suites: one suite's generate → samples → score → result (``suite_run``), a whole
evaluation (``evaluate``) and the comparison table (``table``).

May import: ``suites``, the harness library (``data``, ``train``, ``infer``, ``sandbox``, ``interop``,
``profiling``), ``models`` and the base modules.
"""
