"""Fault points: named places in training and evaluation where a check may stop the process as a crash would.

Production code marks a point with one call and nothing else::

    faults.point("ckpt.write", step, file=f)      # f: the temp file being written, for a check to tear

With no handler installed (normal use) the call does nothing. A check installs one for a block
(:func:`installed`); ``handler(name, n, where)`` may then leave a file half written and kill the process
(``harness.verify.crash`` does, in the processes it SIGKILLs), or raise to stop a run in-process (tests).

Points (``n`` counts steps for ``train.*``/``ckpt.*`` and the chunks a process generates for ``eval.*``):
``train.step`` (after optimizer step n), ``train.metrics`` (a metrics line about to be written:
``file``, ``data``), ``ckpt.write`` (checkpoint temp file written, not yet synced: ``file``),
``ckpt.sidecar`` (sidecar written, .pt not yet renamed), ``ckpt.renamed`` (.pt in place, old ones not
yet pruned), ``ckpt.prune`` (an old .pt removed, its sidecar not yet), ``eval.torn`` (a journal line about
to be written: ``file``, ``data``), ``eval.chunk`` (after a journaled chunk).

This module imports nothing, so any module may mark a point without a dependency.
"""

import contextlib

_handler = None


def point(name: str, n: int, **where) -> None:
    """Fault point ``name``, occurrence ``n``; ``where`` holds what a handler may damage (``file``, ``data``)."""
    if _handler is not None:
        _handler(name, n, where)


@contextlib.contextmanager
def installed(handler):
    """Call ``handler(name, n, where)`` at every fault point inside the block."""
    global _handler
    previous, _handler = _handler, handler
    try:
        yield
    finally:
        _handler = previous
