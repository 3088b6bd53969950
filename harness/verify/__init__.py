"""Checks of the harness's own reliability, apart from production code: hostile generated programs
(``hostile``), kill -9 at fault points (``crash``, ``killed``), the bad-input matrix (``badinput``) and
the ``selfcheck`` command that runs them.

May import: the commands and everything below them. Production code only marks fault points
(``harness.faults.point``); the handlers that kill or stop a run live here.
"""
