"""Persistent per-chip fault maps.

Each simulated chip (a seed) has bit cells that fail below their own threshold voltage:
a cell with threshold V_th is faulty at every V < V_th, so the faulty set at V contains
the faulty set at every V' > V (maps are nested). Sampling is sparse: the number of cells
failing at the lowest voltage of interest, v_low, is Binomial(bits, BER(v_low)); their
positions are uniform and distinct; their thresholds are drawn from the conditional law
P(V_th > V | V_th > v_low) = BER(V) / BER(v_low). Memory and time grow with the faulty
cells only.

Fault kinds per cell: ``flip`` (the stored bit reads inverted) or stuck-at-0/1 (the cell
reads a fixed value; an error only when the stored bit differs). Asymmetric 0->1 / 1->0
behaviour is stuck-at with ``p_stuck1`` != 0.5.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from accelsim.errors import UserError
from accelsim.faults.ber_curve import BerCurve
from accelsim.faults.chip_model import ChipModel
from accelsim.faults.transient import flip_bits, flip_positions
from accelsim.seeds import rng as seeded_rng

FLIP, STUCK0, STUCK1 = -1, 0, 1
CSV_COLUMNS = ("word", "bit", "vmin", "type")


def _vmin(text: str | None, path: Path, line: int) -> float:
    """A measured cell's threshold in volts: a finite number > 0; an empty cell means
    faulty at every voltage (inf). NaN compared false with every vdd, so such a cell was
    silently never faulty; an explicit inf or a value <= 0 is as likely a mistake."""
    if text is None or text.strip() == "":
        return np.inf
    try:
        v = float(text)
    except ValueError:
        raise UserError(f"fault map {path}, line {line}: vmin {text!r} is not a number") from None
    if not np.isfinite(v) or v <= 0:
        raise UserError(f"fault map {path}, line {line}: vmin {text.strip()!r} must be a finite voltage > 0 "
                        "(leave it empty for a cell faulty at every voltage)")
    return v


# A measured map's word index bound without an image to bound it: 2^40 words (8 TiB of
# 64-bit words) is past any SRAM, and word x width stays inside int64.
MAX_MAP_WORDS = 1 << 40


@dataclass
class ChipFaultMap:
    """Faulty cells of one chip: flat bit positions (word * width + bit), thresholds
    (volts; faulty when vdd < threshold) and kind (-1 flip, 0 stuck-at-0, 1 stuck-at-1)."""

    n_words: int
    width: int
    cell: np.ndarray       # int64, sorted
    threshold: np.ndarray  # float64
    kind: np.ndarray       # int8

    @classmethod
    def sample(cls, curve: BerCurve, *, n_words: int, width: int, chip: int, seed: int = 0,
               v_low: float | None = None, mode: str = "flip", p_stuck1: float = 0.5,
               model: ChipModel | None = None) -> "ChipFaultMap":
        """The chip's map down to ``v_low`` (default: the curve's lowest voltage). ``model``
        (default iid) adds a Vmin shift, per-array clustering and a direction
        (:mod:`accelsim.faults.chip_model`); the iid model draws exactly as before."""
        if model is not None and not model.is_iid:
            if mode != "flip":
                raise UserError(f"chip model {model.name} sets each cell's direction itself: it takes "
                                "fault_model persistent, not stuck")
            return cls._sample_structured(curve, int(n_words), int(width), chip, seed,
                                          curve.v_min if v_low is None else v_low, model)
        if mode not in ("flip", "stuck"):
            raise UserError(f"fault mode {mode!r}: expected 'flip' or 'stuck'")
        if not 0.0 <= p_stuck1 <= 1.0:   # NaN fails too: `u < nan` would make every cell stuck-at-0
            raise UserError(f"p_stuck1 = {p_stuck1!r} must be a probability in [0, 1]")
        v_low = curve.v_min if v_low is None else v_low
        rng = seeded_rng(seed, "chip", chip, width)
        cells = flip_positions(int(n_words) * int(width), curve.ber(v_low), rng)
        threshold = curve.sample_thresholds(rng.random(cells.size), v_low) if cells.size else np.zeros(0)
        if mode == "flip":
            kind = np.full(cells.size, FLIP, dtype=np.int8)
        else:
            kind = (rng.random(cells.size) < p_stuck1).astype(np.int8)
        return cls(int(n_words), int(width), cells, np.atleast_1d(np.asarray(threshold, dtype=np.float64)), kind)

    @classmethod
    def _sample_structured(cls, curve: BerCurve, n_words: int, width: int, chip: int, seed: int,
                           v_low: float, model: ChipModel) -> "ChipFaultMap":
        """Shift, clustering and direction (one rng stream per chip and model). A cell of an
        array with multiplier g fails at V with probability min(1, g * BER(V - delta)); given
        that it fails at v_low its threshold has P(V_th > V) = min(1, g BER(V - delta)) /
        min(1, g BER(v_low - delta)), drawn by inversion: nested in V by construction."""
        curve._check(v_low)
        rng = seeded_rng(seed, "chip", chip, width, model.name)
        # the shift is fitted in the curve's own volts; the curve may be mapped to the SRAM's
        delta = rng.normal(0.0, model.vmin_shift_sd) / curve.curve_volts_per_volt if model.vmin_shift_sd else 0.0
        p_low = float(min(curve.law(v_low - delta), 0.5))
        n_bits = n_words * width
        if model.cluster_shape is None:
            cells = flip_positions(n_bits, p_low, rng)
            gain = np.ones(cells.size)
        else:
            cells, gain = _clustered_positions(n_bits, p_low, model.array_bits, model.cluster_shape, rng)
        if cells.size:
            u = np.clip(rng.random(cells.size), 1e-300, 1.0)
            threshold = np.asarray(curve.inverse(u * np.minimum(gain * p_low, 1.0) / gain), dtype=np.float64) + delta
        else:
            threshold = np.zeros(0)
        share = model.share_1to0
        if share is None:
            kind = np.full(cells.size, FLIP, dtype=np.int8)
        else:   # a 1->0 cell reads 0 while it holds 1 (stuck-at-0 in effect), a 0->1 cell reads 1
            kind = np.where(rng.random(cells.size) < share, STUCK0, STUCK1).astype(np.int8)
        return cls(n_words, width, cells, np.atleast_1d(threshold), kind)

    @classmethod
    def from_csv(cls, path: str | Path, *, width: int, n_words: int | None = None) -> "ChipFaultMap":
        """A measured map: CSV with header ``word,bit[,vmin][,type]``; type flip|stuck0|stuck1;
        without vmin a cell is faulty at every voltage. ``n_words`` bounds the word index
        (default: the map's own extent, for an SRAM larger than any one image)."""
        path = Path(path)
        if not path.is_file():
            raise UserError(f"fault map {str(path)!r} does not exist")
        try:
            return cls._read_csv(path, width, n_words)
        except UnicodeDecodeError:
            raise UserError(f"fault map {path}: not UTF-8 text") from None
        except csv.Error as exc:
            raise UserError(f"fault map {path}: not a readable CSV ({exc})") from None
        except OSError as exc:
            raise UserError(f"fault map {str(path)!r}: cannot read ({exc.strerror or exc})") from None

    @classmethod
    def _read_csv(cls, path: Path, width: int, n_words: int | None) -> "ChipFaultMap":
        cells, thr, kinds = [], [], []
        names = {"flip": FLIP, "stuck0": STUCK0, "stuck1": STUCK1}
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not {"word", "bit"} <= set(reader.fieldnames):
                raise UserError(f"fault map {path}: header must name at least 'word' and 'bit'")
            unknown = [c for c in reader.fieldnames if c not in CSV_COLUMNS]
            if unknown:   # a misspelt vmin would silently make every cell always faulty
                raise UserError(f"fault map {path}: unknown column(s) {', '.join(map(repr, unknown))} "
                                f"(columns: {', '.join(CSV_COLUMNS)})")
            for row in reader:
                line = reader.line_num
                if None in row:
                    raise UserError(f"fault map {path}, line {line}: more fields than the header's "
                                    f"{len(reader.fieldnames)}")
                try:
                    w, b = int(row["word"]), int(row["bit"])
                except (TypeError, ValueError):
                    raise UserError(f"fault map {path}, line {line}: word/bit must be integers "
                                    f"(got {row['word']!r}, {row['bit']!r})") from None
                v = _vmin(row.get("vmin"), path, line)
                if not (0 <= w < (n_words if n_words is not None else MAX_MAP_WORDS) and 0 <= b < width):
                    extent = f"{n_words} x {width}" if n_words is not None else f"words of {width}"
                    extent += " bits" + ("" if n_words is not None else " (word index below 2^40)")
                    raise UserError(f"fault map {path}, line {line}: cell ({w}, {b}) outside {extent}")
                kind = (row.get("type") or "flip").strip().lower()
                if kind not in names:
                    raise UserError(f"fault map {path}, line {line}: type {kind!r} is not flip, stuck0 or stuck1")
                cells.append(w * width + b)
                thr.append(v)
                kinds.append(names[kind])
        order = np.argsort(cells, kind="stable")
        cell = np.asarray(cells, dtype=np.int64)[order]
        if np.any(np.diff(cell) == 0):
            w, b = divmod(int(cell[np.flatnonzero(np.diff(cell) == 0)[0]]), width)
            raise UserError(f"fault map {path}: cell ({w}, {b}) is listed twice")
        if n_words is None:
            n_words = int(cell[-1] // width) + 1 if cell.size else 0
        return cls(int(n_words), int(width), cell, np.asarray(thr, dtype=np.float64)[order],
                   np.asarray(kinds, dtype=np.int8)[order])

    def faulty(self, vdd: float) -> np.ndarray:
        """Indices (into cell/kind) of the cells faulty at vdd."""
        return np.flatnonzero(self.threshold > vdd)

    def apply(self, words: np.ndarray, vdd: float, *, word_offset: int = 0) -> np.ndarray:
        """A copy of (N, lanes) words as read at vdd; words[0] is SRAM word ``word_offset``."""
        out = np.array(words, dtype=np.uint64, copy=True)
        view = out[:, None] if out.ndim == 1 else out
        idx = self.faulty(vdd)
        lo, hi = word_offset * self.width, (word_offset + view.shape[0]) * self.width
        idx = idx[(self.cell[idx] >= lo) & (self.cell[idx] < hi)]
        if idx.size == 0:
            return out
        pos = self.cell[idx] - lo
        kind = self.kind[idx]
        flips = kind == FLIP
        if not np.all(flips):  # stuck-at: an error only where the stored bit differs
            word, bit = np.divmod(pos, self.width)
            stored = (view[word, bit // 64] >> (bit % 64).astype(np.uint64)) & np.uint64(1)
            flips = flips | (stored.astype(np.int8) != kind)
        flip_bits(view, pos[flips], self.width)
        return out

    @property
    def nbytes(self) -> int:
        return self.cell.nbytes + self.threshold.nbytes + self.kind.nbytes


def _clustered_positions(n_bits: int, p: float, array_bits: int, shape: float,
                         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct faulty cells when array a (``array_bits`` cells; the last one may be
    partial) has rate min(1, g_a * p), g_a ~ Gamma(shape, 1 / shape); and each cell's g."""
    n_arrays = -(-n_bits // array_bits)
    size = np.full(n_arrays, array_bits, dtype=np.int64)
    size[-1] = n_bits - array_bits * (n_arrays - 1)
    gain = rng.gamma(shape, 1.0 / shape, n_arrays)
    count = rng.binomial(size, np.minimum(gain * p, 1.0))
    start = np.arange(n_arrays, dtype=np.int64) * array_bits
    dense = count * 4 > size
    parts = [start[a] + rng.choice(size[a], size=count[a], replace=False) for a in np.flatnonzero(dense)]
    # sparse arrays: uniform offsets, redrawing the few that collide until all are distinct
    owner = np.repeat(np.flatnonzero(~dense), count[~dense])
    cells = np.zeros(0, dtype=np.int64)
    while owner.size:
        new = start[owner] + (rng.random(owner.size) * size[owner]).astype(np.int64)
        merged = np.concatenate([cells, new])
        uniq, first = np.unique(merged, return_index=True)
        cells = uniq
        kept = first[first >= merged.size - new.size] - (merged.size - new.size)
        lost = np.ones(new.size, dtype=bool)
        lost[kept] = False
        owner = owner[lost]
    cells = np.sort(np.concatenate([cells, *parts])).astype(np.int64)
    return cells, gain[cells // array_bits]


def inject_asymmetric(words: np.ndarray, p01: float, p10: float, *, seed, width: int) -> np.ndarray:
    """Transient asymmetric errors: a stored 0 reads 1 with probability p01, a stored 1
    reads 0 with probability p10 (each bit independently)."""
    from accelsim.faults.transient import check_ber
    p01, p10 = check_ber(p01), check_ber(p10)
    out = np.array(words, dtype=np.uint64, copy=True)
    view = out[:, None] if out.ndim == 1 else out
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    pmax = max(p01, p10)
    pos = flip_positions(view.shape[0] * width, pmax, rng)
    if pos.size:
        word, bit = np.divmod(pos, width)
        stored = (view[word, bit // 64] >> (bit % 64).astype(np.uint64)) & np.uint64(1)
        keep_p = np.where(stored == 0, p01, p10) / pmax
        flip_bits(view, pos[rng.random(pos.size) < keep_p], width)
    return out


def inject_float(weights: np.ndarray, ber: float, *, seed) -> np.ndarray:
    """Flip each bit of the IEEE-754 representation of float32/float16 weights with
    probability ber (transient), for the float-versus-fixed-point comparisons."""
    from accelsim.faults.transient import inject
    w = np.ascontiguousarray(weights)
    if w.dtype == np.float32:
        bits = w.view(np.uint32).astype(np.uint64).reshape(-1)
        return inject(bits, ber, seed=seed, width=32).astype(np.uint32).view(np.float32).reshape(w.shape)
    if w.dtype == np.float16:
        bits = w.view(np.uint16).astype(np.uint64).reshape(-1)
        return inject(bits, ber, seed=seed, width=16).astype(np.uint16).view(np.float16).reshape(w.shape)
    raise UserError(f"float bit errors need float32 or float16 weights, got {w.dtype}")
