"""Timeline trace in Chrome trace-event JSON (opens in Perfetto / chrome://tracing).

Time unit: one clock cycle is one trace microsecond, so every timestamp and duration is
an integer (the clock in MHz is written in the process name and ``otherData``). One
process, the accelerator, with a thread per block (DRAM, SRAM, ECC, PE) and one for the
PE array's folds; counter tracks: words corrected / detected per ECC burst, SRAM read
bandwidth (bits per cycle, per burst) and PE utilization (per run of folds).
"""

from __future__ import annotations

import json

from accelsim.fileio import atomic_write_text

TRACKS = ("DRAM", "SRAM", "ECC", "PE", "PE folds")
PID = 0


class Trace:
    def __init__(self, enabled: bool, clock_mhz: float, *, folds: bool = False):
        self.enabled, self.clock_mhz, self.folds = enabled, clock_mhz, folds
        self.events: list[dict] = []

    def sram_idle(self, at: int) -> None:
        if self.enabled:
            self.counter("SRAM read bandwidth (bits/cycle)", at, bits_per_cycle=0.0)

    def add(self, track: str, name: str, start: int, end: int, **args) -> None:
        """A span on a block's thread, [start, end) in cycles."""
        if self.enabled:
            self.events.append({"name": name, "ph": "X", "pid": PID, "tid": TRACKS.index(track), "ts": int(start),
                                "dur": max(int(end) - int(start), 0), "args": {"cycles": int(end) - int(start), **args}})

    def counter(self, name: str, at: int, **values) -> None:
        if self.enabled:
            self.events.append({"name": name, "ph": "C", "pid": PID, "ts": int(at),
                                "args": {k: (float(v) if isinstance(v, float) else int(v)) for k, v in values.items()}})

    def burst(self, layer: str, burst_id: int, start: int, end: int, n_words: int, status_counts,
              reread: bool) -> None:
        """One burst through the ECC stage and its counters."""
        if not self.enabled:
            return
        corrected, detected = (int(status_counts[0]), int(status_counts[1])) if status_counts is not None else (0, 0)
        self.add("ECC", f"{layer} burst {burst_id}" + (" re-read" if reread else ""), start, end, words=n_words,
                 corrected=corrected, detected=detected)
        self.counter("ECC words per burst", start, corrected=corrected, detected=detected)

    def sram_burst(self, start: int, end: int, bits: int) -> None:
        """The read bandwidth of one burst, from its first cycle (0 is set when the tile ends)."""
        if self.enabled:
            self.counter("SRAM read bandwidth (bits/cycle)", start, bits_per_cycle=bits / max(end - start, 1))

    def fold_run(self, layer: str, first: int, n: int, start: int, per_fold: int, utilization: float) -> None:
        """A run of n folds of a layer starting at cycle ``start``: one event, or one per fold
        when the trace was asked for folds."""
        if not self.enabled:
            return
        end = start + n * per_fold
        self.counter("PE utilization", start, utilization=utilization)
        self.counter("PE utilization", end, utilization=0.0)
        if self.folds:
            for i in range(n):
                self.add("PE folds", f"{layer} fold {first + i}", start + i * per_fold, start + (i + 1) * per_fold)
        else:
            self.add("PE folds", f"{layer} folds {first}..{first + n - 1}", start, end, folds=n)

    def write(self, path) -> None:
        meta = [{"name": "process_name", "ph": "M", "pid": PID, "tid": 0,
                 "args": {"name": f"accelerator @ {self.clock_mhz:g} MHz (1 us = 1 cycle)"}}]
        meta += [{"name": "thread_name", "ph": "M", "pid": PID, "tid": i, "args": {"name": t}}
                 for i, t in enumerate(TRACKS)]
        meta += [{"name": "thread_sort_index", "ph": "M", "pid": PID, "tid": i, "args": {"sort_index": i}}
                 for i in range(len(TRACKS))]
        atomic_write_text(path, json.dumps({"traceEvents": meta + self.events, "displayTimeUnit": "ms",
                                            "otherData": {"clock_mhz": self.clock_mhz, "time_unit": "cycle"}}))
