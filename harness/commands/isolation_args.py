"""The ``--isolation`` flag that ``eval``, ``diversity`` and ``reproduce`` share (the commands that execute
generated code); what each mode does: ``harness.sandbox.isolation``."""

from __future__ import annotations

from harness.sandbox.isolation import MODES


def add_isolation_argument(g) -> None:
    g.add_argument("--isolation", choices=MODES, default="auto",
                   help="generated code runs inside fresh Linux namespaces around the in-process guard "
                        "(namespaces), under the guard alone (guard), or in namespaces where the kernel "
                        "allows them, else the guard with a notice (auto, the default)")
