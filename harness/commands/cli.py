"""How a table of command modules becomes ``python -m harness``'s parser, and how an error becomes one line.

A command module provides ``HELP`` (its line in the command list), ``add_arguments(parser)`` and
``run(args) -> int``; the first paragraph of its docstring describes it in ``COMMAND --help``. Bad input
(``ValueError``, ``FileNotFoundError``, ``RuntimeError``, ``OSError``) prints one line ``error: ...`` and
exits 2. The table itself is ``harness.__main__.COMMANDS``; the bad-input checks build a smaller one.
"""

from __future__ import annotations

import argparse
import errno
import sys


def build_parser(commands: dict) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m harness", description="Activation-sparsity harness.",
                                 epilog="Run 'python -m harness COMMAND --help' for a command's flags.")
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    for name, mod in commands.items():
        p = sub.add_parser(name, help=mod.HELP, description=(mod.__doc__ or mod.HELP).strip().split("\n\n")[0],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(func=mod.run)
    return ap


def one_line(e: BaseException) -> str:
    """The error as one line. An OSError from the system (EACCES, ENOSPC, EFBIG, ENOTDIR: an unwritable
    output folder, a full disk) names what failed on which path; a multi-line message keeps its first line."""
    if isinstance(e, OSError) and e.strerror and e.filename:
        verb = "cannot write" if e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS) else "cannot use"
        return f"{verb} {e.filename}: {e.strerror}"
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return f"cannot write output: {e.strerror or e} (disk full or file size limit)"
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def main(argv: list[str] | None, commands: dict) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) against ``commands`` and run the command chosen."""
    args = build_parser(commands).parse_args(argv)
    try:
        return args.func(args) or 0
    except (ValueError, FileNotFoundError, RuntimeError, OSError) as e:
        print(f"error: {one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
