"""argparse types that refuse a bad command-line value with one line (exit 2): no NaN or
infinity, integers in range, seeds in 0 .. 2^63-1."""

from __future__ import annotations

import argparse
import math

SEED_MAX = 2**63 - 1


def integer(lo: int | None = None, hi: int | None = None):
    """An integer in [lo, hi]."""
    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = f">= {lo}" if hi is None else (f"<= {hi}" if lo is None else f"in {lo}..{hi}")
            raise argparse.ArgumentTypeError(f"{value} must be {bounds}")
        return value
    parse.__name__ = "integer"
    return parse


def number(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False):
    """A finite float in the interval (open or closed at each end)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        low_bad = lo is not None and (value <= lo if lo_open else value < lo)
        high_bad = hi is not None and (value >= hi if hi_open else value > hi)
        if low_bad or high_bad:
            left = "" if lo is None else f"{'(' if lo_open else '['}{lo:g}"
            right = "" if hi is None else f"{hi:g}{')' if hi_open else ']'}"
            rng = f"in {left}, {right}" if lo is not None and hi is not None else (
                f"{'>' if lo_open else '>='} {lo:g}" if lo is not None else f"{'<' if hi_open else '<='} {hi:g}")
            raise argparse.ArgumentTypeError(f"{value:g} must be {rng}")
        return value
    parse.__name__ = "number"
    return parse


seed = integer(0, SEED_MAX)
workers = integer(1, 1024)


def add_data_arguments(parser, what: str) -> None:
    """``--data`` and the imagefolder transform options, the same on every command."""
    parser.add_argument("--data", default=None, metavar="SOURCE",
                        help=f"{what}: digits (default), fashion-mnist (Debian's dataset-fashion-mnist), "
                             "mnist:DIR, cifar10:DIR, imagefolder:DIR, npz:FILE or synthetic:NxCxHxW")
    parser.add_argument("--resize", type=int, default=None, metavar="PIXELS",
                        help="imagefolder: resize the shorter side to PIXELS before the crop")
    parser.add_argument("--crop", type=int, default=None, metavar="PIXELS", help="imagefolder: center crop")
    parser.add_argument("--mean", default=None, metavar="M[,M,M]", help="per-channel mean subtracted (after /255)")
    parser.add_argument("--std", default=None, metavar="S[,S,S]", help="per-channel std divided by")
