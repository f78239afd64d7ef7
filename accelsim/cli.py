"""The ``accelsim`` command line.

Each stage of the data flow owns its subcommands in ``accelsim/<stage>/commands.py``
with a ``register(subparsers)`` function; this module only wires them together and turns
a :class:`~accelsim.errors.UserError` into one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys

from accelsim import __version__
from accelsim.errors import UserError

# In data-flow order; each module adds its subcommands.
COMMAND_MODULES = (
    "accelsim.nn.commands",        # train
    "accelsim.image.commands",     # export, inspect
    "accelsim.rtl.commands",       # rtl generate | stats
    "accelsim.faults.commands",    # fit
    "accelsim.hw.commands",        # simulate
    "accelsim.campaign.commands",  # campaign
    "accelsim.report.commands",    # report
    "accelsim.run",                # run, demo
    "accelsim.schema.commands",    # schema KIND
)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own usage errors: one line, exit 2
        self.exit(2, f"accelsim: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    import accelsim

    parser = _Parser(prog="accelsim", description=accelsim.__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"accelsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _one_line(text: str) -> str:
    return " ".join(text.split()) if "\n" in text else text


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:   # a usage error (one line, status 2), --help or --version
        return exc.code if isinstance(exc.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    previous = _on_sigterm()
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"accelsim: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except OSError as exc:   # an output path the OS refuses (disk full, permissions, ...)
        where = f"{exc.filename!r}: " if exc.filename is not None else ""
        print(f"accelsim: error: {where}{_one_line(exc.strerror or str(exc))}", file=sys.stderr)
        return 2
    except Terminated:
        print("accelsim: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("accelsim: interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is: the same clean-up as Ctrl-C (worker
    processes ended, temporary outputs removed, the store's committed trials kept)."""


def _on_sigterm():
    """Turn SIGTERM into :class:`Terminated` (the default handler would end the process at
    once and orphan its workers); returns the previous handler (None off the main thread)."""
    def handler(signum, frame):
        raise Terminated()
    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:   # not the main thread (an embedding application): leave signals alone
        return None


if __name__ == "__main__":
    raise SystemExit(main())
