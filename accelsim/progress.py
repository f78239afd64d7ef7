"""Progress of the steps that take more than a couple of seconds (export, tracing,
fault-free passes, trials), labelled by what they do.

On a terminal: a rich bar (or spinner) that is redrawn in place. Otherwise (output to a
file or a pipe): plain lines, one when a step starts, one every ``INTERVAL_S`` seconds
with the elapsed time and the estimated time left, and one when it ends, each flushed at
once, so that a log file shows where a long run is while it runs."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time

INTERVAL_S = float(os.environ.get("ACCELSIM_PROGRESS_INTERVAL", "10"))   # plain lines: seconds between lines
_ENABLED = [True]   # a library caller (tests) may silence every step: quiet()


def clock(seconds: float) -> str:
    """0:00:07, 1:02:03."""
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _terminal() -> bool:
    return sys.stdout.isatty()


@contextlib.contextmanager
def quiet():
    """No progress output inside the block."""
    saved = _ENABLED[0]
    _ENABLED[0] = False
    try:
        yield
    finally:
        _ENABLED[0] = saved


def _line(text: str) -> None:
    print(text, flush=True)


class Bar:
    """Progress over a known count (``total`` items, ``done`` of them finished before)."""

    def __init__(self, label: str, total: int, done: int = 0, *, unit: str = "", enabled: bool = True):
        self.label, self.total, self.done0, self.unit = label, total, done, unit
        self.enabled = enabled and _ENABLED[0]
        self.count = 0
        self.t0 = time.perf_counter()
        self._rich = None
        self._next = self.t0 + INTERVAL_S
        if not self.enabled:
            return
        if _terminal():
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)
            self._rich = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("left"),
                                  TimeRemainingColumn())
            self._rich.start()
            self._task = self._rich.add_task(label, total=total, completed=done, rate="")
        else:
            _line(f"{label}: {done}/{total} to start" + (f" ({done} done before)" if done else ""))

    def _text(self) -> str:
        elapsed = time.perf_counter() - self.t0
        finished = self.done0 + self.count
        left = (elapsed / self.count * (self.total - finished)) if self.count else None
        rate = f", {self.count / elapsed:.2f} {self.unit}/s" if self.unit and elapsed > 0 else ""
        return (f"{self.label}: {finished}/{self.total} ({100 * finished / max(self.total, 1):.0f} %), "
                f"elapsed {clock(elapsed)}, left {'?' if left is None else clock(left)}{rate}")

    def advance(self, n: int = 1) -> None:
        if not self.enabled:
            return
        self.count += n
        if self._rich is not None:
            elapsed = time.perf_counter() - self.t0
            rate = f"{self.count / elapsed:.1f} {self.unit}/s" if self.unit and elapsed > 0 else ""
            self._rich.update(self._task, advance=n, rate=rate)
        elif time.perf_counter() >= self._next and self.done0 + self.count < self.total:
            self._next = time.perf_counter() + INTERVAL_S
            _line(self._text())

    def close(self) -> None:
        if not self.enabled:
            return
        if self._rich is not None:
            self._rich.stop()
        else:
            _line(self._text().replace(", left 0:00:00", "") + " — done")
        self.enabled = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# a step that ends sooner prints nothing (ACCELSIM_PROGRESS_SHOW_AFTER: seconds; 0 shows every step)
SHOW_AFTER_S = float(os.environ.get("ACCELSIM_PROGRESS_SHOW_AFTER", "2"))


@contextlib.contextmanager
def step(label: str, *, enabled: bool = True):
    """A step of unknown length. Nothing is shown if it ends within SHOW_AFTER_S seconds;
    after that: a spinner on a terminal; otherwise a line when it has run SHOW_AFTER_S
    seconds, one every INTERVAL_S seconds (elapsed time) and one when it ends."""
    if not (enabled and _ENABLED[0]):
        yield
        return
    t0 = time.perf_counter()
    if _terminal():
        from rich.console import Console
        console = Console()
        with console.status(f"{label} ..."):
            yield
        if time.perf_counter() - t0 >= SHOW_AFTER_S:
            console.print(f"{label}: done in {clock(time.perf_counter() - t0)}", highlight=False)
        return
    stop = threading.Event()
    shown = threading.Event()

    def ticker():
        if stop.wait(SHOW_AFTER_S):
            return
        shown.set()
        _line(f"{label} ... (elapsed {clock(time.perf_counter() - t0)})")
        while not stop.wait(INTERVAL_S):
            _line(f"{label}: running, elapsed {clock(time.perf_counter() - t0)}")

    thread = threading.Thread(target=ticker, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
    if shown.is_set():
        _line(f"{label}: done in {clock(time.perf_counter() - t0)}")
