"""One harness command that SIGKILLs itself at a fault point: what the crash-safety checks start.

    python -m harness.verify.killed ckpt.write:6 train --model relu --scale tiny --resume
    python -m harness.verify.killed eval.torn:3 eval --model relu --scale tiny --suites syn_code --no-train

The first argument is ``POINT:N`` (``harness.faults`` lists the points); the rest is a ``train`` or
``eval`` command line as ``python -m harness`` takes it. Where the point is never reached the command
runs to its end.
"""

from __future__ import annotations

import sys

from harness import faults
from harness.commands import cli, evaluate, train
from harness.verify.crash import kill_at

COMMANDS = {"train": train, "eval": evaluate}


def main(argv: list[str]) -> int:
    spec, *command = argv
    with faults.installed(kill_at(spec)):
        return cli.main(command, COMMANDS)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
