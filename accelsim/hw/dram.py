"""DRAM: weights move DRAM -> weight SRAM in tiles, at a fixed bandwidth after a latency."""

from __future__ import annotations

from math import ceil


def transfer_cycles(n_bytes: int, bytes_per_cycle: float, latency: int) -> int:
    return latency + ceil(n_bytes / bytes_per_cycle)


def dram_process(env, tiles, cfg, sram_free, tile_loaded, stats, trace):
    """Load every tile in order, each once SRAM space is free (double buffering)."""
    for tile in tiles:
        yield sram_free.get(tile.n_words)
        t0 = env.now
        n_bytes = ceil(tile.n_words * cfg.word_bits / 8)
        yield env.timeout(transfer_cycles(n_bytes, cfg.dram_bytes_per_cycle, cfg.dram_latency))
        s = stats[tile.layer]
        s.dram_bytes += n_bytes
        s.dram_start = t0 if s.dram_start < 0 else s.dram_start
        s.dram_end = env.now
        trace.add("DRAM", f"{tile.layer_name} tile {tile.index}", t0, env.now)
        tile_loaded[tile.key].succeed()
