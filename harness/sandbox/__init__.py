"""Generated code run against its tests in a separate, limited, guarded process: ``execute`` (the harness's
side) starts ``runner.py`` (the runner process, started by path, never imported), inside fresh Linux
namespaces that ``isolation`` builds with bubblewrap or ``unshare`` where the kernel allows them.

May import: the standard library only.
"""
