"""One module per command of ``python -m harness``: ``HELP``, ``add_arguments(parser)``, then ``run(args)``,
which calls into the library. ``cli`` turns a table of them into a parser; ``data_args`` holds the flags
three commands share. At import a command loads nothing heavy (no torch): it imports the library inside
``run``.

May import: everything below (``harness.evaluation``, ``harness.diversity``, ``suites``, the library,
``models``, the base modules). Nothing below imports a command.
"""
