"""The generation-diversity study: its settings (``settings``, no torch), diversity measures (``metrics``),
code behaviour in the sandbox (``behaviour``), scoring (``scoring``) and the study itself (``study``).

May import: ``suites``, the harness library, ``models`` and the base modules.
"""
