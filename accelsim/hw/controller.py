"""The controller: splits each layer's weights into SRAM tiles and orders layers, tiles and
weight passes.

A tile is at most half the weight SRAM (the other half is filled by DRAM meanwhile:
double buffering). A layer whose weights fit in half the SRAM is loaded once and read
``weight_passes`` times while resident (output-stationary re-reads them per row fold); a
larger layer is re-fetched from DRAM for every pass. Layers run one after another, in
the image's order.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tile:
    layer: int
    layer_name: str
    index: int
    start: int       # first word (index into the image)
    n_words: int
    reads: int       # read passes while resident
    pass_index: int  # weight pass of the first of those reads (0: the first read of these words)
    key: int         # position in the global tile order


def tile_schedule(layers, passes: list[int], sram_words: int) -> list[Tile]:
    """Tiles of every layer in execution order; ``passes[i]``: weight passes of layer i."""
    half = sram_words // 2
    tiles: list[Tile] = []
    for li, (layer, n_pass) in enumerate(zip(layers, passes)):
        end = layer.word_offset + layer.n_words
        chunks = [(s, min(half, end - s)) for s in range(layer.word_offset, end, half)]
        if len(chunks) == 1:
            s, n = chunks[0]
            tiles.append(Tile(li, layer.name, 0, s, n, n_pass, 0, len(tiles)))
            continue
        idx = 0
        for p in range(n_pass):
            for s, n in chunks:
                tiles.append(Tile(li, layer.name, idx, s, n, 1, p, len(tiles)))
                idx += 1
    return tiles
