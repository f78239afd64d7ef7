"""Timeline trace in Chrome trace-event JSON (opens in Perfetto / chrome://tracing)."""

from __future__ import annotations

import json

from accelsim.fileio import atomic_write_text

TRACKS = ("DRAM", "SRAM", "ECC", "PE")


class Trace:
    def __init__(self, enabled: bool, clock_mhz: float):
        self.enabled, self.clock_mhz = enabled, clock_mhz
        self.events: list[dict] = []

    def add(self, track: str, name: str, start: int, end: int) -> None:
        if self.enabled:
            us = 1.0 / self.clock_mhz   # one cycle in microseconds
            self.events.append({"name": name, "ph": "X", "pid": 0, "tid": TRACKS.index(track),
                                "ts": start * us, "dur": max(end - start, 0) * us, "args": {"cycles": end - start}})

    def write(self, path) -> None:
        meta = [{"name": "thread_name", "ph": "M", "pid": 0, "tid": i, "args": {"name": t}} for i, t in enumerate(TRACKS)]
        atomic_write_text(path, json.dumps({"traceEvents": meta + self.events, "displayTimeUnit": "ns"}))
