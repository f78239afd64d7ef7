"""Re-count the undervolting faults of Salami, Unsal, Cristal (MICRO 2018) from their
public data set and print one JSON line of figures.

    python benchmarks/salami_counts.py PATH

PATH is a checkout of https://github.com/behzadsalami/FPGA-BRAMs-Undervoltig-Study (or its
"Fault Characterization" folder). The data set is not part of accelsim; this script only
reads it. Per board it reads the sheet "#Faults" of Information-<board>.ods (fault count per
VCCBRAM) and, where present, the bit images RawData/<board>-<V>.bin: the BRAMs' content read
back at V as hex text, BRAM after BRAM (16 kbit = 4096 hex digits each), written all-ones,
so a '0' bit is a 1->0 flip. From the images it counts the faults per voltage and per BRAM
(empty BRAMs, variance, the share the top 10 % hold), checks that faults are nested in
voltage and that no 0->1 flip exists, and fits the per-BRAM rate multiplier of
accelsim's clustered chip model (docs/faults.md).
"""

from __future__ import annotations

import json
import re
import sys
import zipfile
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
BRAM_BITS = 16 * 1024


def sheet_rows(ods: Path, name: str) -> list[list[str]]:
    """The non-empty rows of sheet ``name`` of an OpenDocument spreadsheet (stdlib only)."""
    root = ET.fromstring(zipfile.ZipFile(ods).read("content.xml"))
    for sheet in root.iter(TABLE + "table"):
        if sheet.get(TABLE + "name") != name:
            continue
        rows = []
        for row in sheet.iter(TABLE + "table-row"):
            cells = []
            for c in row.iter(TABLE + "table-cell"):
                cells += ["".join(c.itertext())] * min(int(c.get(TABLE + "number-columns-repeated", "1")), 64)
            while cells and cells[-1] == "":
                cells.pop()
            if cells:
                rows.append(cells)
        return rows
    raise SystemExit(f"{ods}: no sheet {name!r}")


def info(ods: Path) -> dict:
    """Sheet 'Information' as key -> value, and sheet '#Faults' as {vdd: count}."""
    meta = {r[0]: r[1] for r in sheet_rows(ods, "Information") if len(r) >= 2}
    volts, counts = sheet_rows(ods, "#Faults")[:2]
    faults = {float(re.sub(r"[^0-9.]", "", v)): int(c) for v, c in zip(volts[1:], counts[1:])}
    return {"meta": meta, "faults": faults}


def image_bits(path: Path) -> np.ndarray:
    """The bit image as a uint8 array of bits (MSB first per hex digit)."""
    text = np.frombuffer(path.read_bytes().strip(), dtype=np.uint8)
    nibble = np.where(text <= ord("9"), text - ord("0"), (text | 0x20) - ord("a") + 10).astype(np.uint8)
    if nibble.max(initial=0) > 15:
        raise SystemExit(f"{path}: not hex text")
    return np.unpackbits(nibble[:, None], axis=1)[:, 4:].reshape(-1)


def per_array_stats(faulty: np.ndarray) -> dict:
    """Faults per 16 kbit BRAM: mean, variance, empty arrays, share held by the top 10 %,
    and the gamma shape k of a rate multiplier (mean 1) by moments: var = m + m^2 / k."""
    per = faulty.reshape(-1, BRAM_BITS).sum(axis=1)
    m, var = float(per.mean()), float(per.var())
    top = np.sort(per)[::-1][: int(round(0.1 * per.size))].sum() / max(per.sum(), 1)
    k = m * m / (var - m) if var > m else None
    return {"arrays": int(per.size), "faults": int(per.sum()), "mean": m, "variance": var,
            "empty": int((per == 0).sum()), "empty_if_independent": float(per.size * np.exp(-m)),
            "top10_share": float(top), "gamma_shape_moments": k}


def board(folder: Path) -> dict | None:
    odss = sorted(folder.glob("Information-*.ods"))
    if not odss:
        return None
    out = info(odss[0])
    brams = int(out["meta"].get("#BRAMs", "0"))
    out["bits"] = brams * BRAM_BITS
    out["ber"] = {v: c / out["bits"] for v, c in out["faults"].items()}
    images = sorted(p for d in folder.iterdir() if d.is_dir() for p in d.glob("*.bin"))
    faulty_by_v, counted = {}, {}
    for p in images:
        v = float(p.stem.rsplit("-", 1)[1])
        bits = image_bits(p)
        if bits.size != out["bits"]:
            counted[v] = f"skipped: {bits.size} bits, the sheet says {out['bits']}"
            continue
        faulty_by_v[v] = bits == 0
        counted[v] = int(faulty_by_v[v].sum())
    out["image_counts"] = counted
    out["images_missing"] = sorted(set(out["faults"]) - set(counted))
    if faulty_by_v:
        vs = sorted(faulty_by_v)
        # share of the faults at each voltage still faulty one step lower (1.0: nested)
        out["still_faulty_one_step_lower"] = {
            hi: float(np.sum(faulty_by_v[hi] & faulty_by_v[lo]) / max(faulty_by_v[hi].sum(), 1))
            for lo, hi in zip(vs, vs[1:])}
        arrays = {v: set(np.flatnonzero(faulty_by_v[v].reshape(-1, BRAM_BITS).any(axis=1)).tolist()) for v in vs}
        out["faulty_arrays_still_faulty_lower"] = {
            hi: len(arrays[hi] & arrays[lo]) / max(len(arrays[hi]), 1) for lo, hi in zip(vs, vs[1:])}
        out["per_array"] = {v: per_array_stats(faulty_by_v[v]) for v in vs}
        # written all-ones (README): every fault seen is a 1->0 flip; a 0->1 one cannot show
        out["images"] = [p.name for p in images if float(p.stem.rsplit("-", 1)[1]) in faulty_by_v]
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    root = Path(argv[0])
    root = root / "Fault Characterization" if (root / "Fault Characterization").is_dir() else root
    if not root.is_dir():
        print(f"salami_counts: {root} is not a folder", file=sys.stderr)
        return 2
    boards = {d.name: b for d in sorted(root.iterdir()) if d.is_dir() and (b := board(d))}
    print(json.dumps({"source": "Salami, Unsal, Cristal, MICRO 2018; github.com/behzadsalami/FPGA-BRAMs-Undervoltig-Study",
                      "boards": boards}, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
