"""How quantized weights sit in SRAM words, with or without ECC.

Weight i of a layer goes to word i // weights_per_word, slot i % weights_per_word,
occupying physical bits [slot * weight_bits, (slot + 1) * weight_bits) in two's
complement. In-place (zero-space) ECC layouts throttle some slots to half the range
([-2^(b-2), 2^(b-2) - 1]), which makes their MSB a copy of the next bit; that redundant
MSB stores a check bit instead and is restored by sign extension after decoding. The
throttled slots are the first ones (0, 1, ...); the others keep the full range.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from accelsim.ecc.codec import DEFAULT_RULE, Decoded, SecDedEngine, as_words
from accelsim.ecc.codes import Code, get_code
from accelsim.ecc.names import LAYOUT_NAMES
from accelsim.errors import UserError


@dataclass(frozen=True, eq=False)
class Layout:
    name: str
    weight_bits: int
    weights_per_word: int
    throttled: tuple[int, ...]
    code_name: str | None
    word_bits: int

    @property
    def code(self) -> Code | None:
        return get_code(self.code_name) if self.code_name else None

    @property
    def lanes(self) -> int:
        return (self.word_bits + 63) // 64

    @property
    def inplace(self) -> bool:
        return bool(self.throttled)

    @property
    def check_positions(self) -> tuple[int, ...]:
        """Physical bit positions of the check bits within a word."""
        if self.code is None:
            return ()
        if self.inplace:
            return tuple(s * self.weight_bits + self.weight_bits - 1 for s in self.throttled)
        data_bits = self.weights_per_word * self.weight_bits
        return tuple(range(data_bits, data_bits + self.code.r))

    @property
    def storage_overhead(self) -> float:
        """Extra stored bits per weight bit (0.125 for (72,64), 0 in place)."""
        return self.word_bits / (self.weights_per_word * self.weight_bits) - 1.0

    def weight_range(self, slot: int) -> tuple[int, int]:
        """Inclusive (lo, hi) of the integer a slot can hold."""
        b = self.weight_bits - (1 if slot in self.throttled else 0)
        return -(1 << (b - 1)), (1 << (b - 1)) - 1

    def n_words(self, n_weights: int) -> int:
        return -(-int(n_weights) // self.weights_per_word)

    # -- internals ------------------------------------------------------------------
    @functools.cached_property
    def _slot_lo_hi(self) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = zip(*(self.weight_range(s) for s in range(self.weights_per_word)))
        return np.array(lo, dtype=np.int64), np.array(hi, dtype=np.int64)

    @functools.cached_property
    def _value_bits(self) -> np.ndarray:
        """Bits of each slot that carry the value (the MSB of a throttled slot is a check bit)."""
        return np.array([self.weight_bits - (s in self.throttled) for s in range(self.weights_per_word)],
                        dtype=np.uint64)

    @functools.cached_property
    def _engine(self) -> SecDedEngine | None:
        code = self.code
        if code is None:
            return None
        checks = np.array(self.check_positions)
        data_bits = self.weights_per_word * self.weight_bits
        data = np.setdiff1d(np.arange(data_bits), checks)
        if len(data) != code.k:
            raise AssertionError(f"{self.name}: {len(data)} data bits for a k={code.k} code")
        return code.engine(data, checks, self.word_bits)

    # -- public -----------------------------------------------------------------------
    def check_weights(self, q: np.ndarray) -> None:
        """ValueError naming the first weight outside its slot's range."""
        slots = np.arange(q.size) % self.weights_per_word
        lo, hi = self._slot_lo_hi
        bad = np.flatnonzero((q < lo[slots]) | (q > hi[slots]))
        if bad.size:
            i = int(bad[0])
            s = int(slots[i])
            kind = "throttled slot" if s in self.throttled else "slot"
            raise UserError(
                f"weight {i} = {int(q[i])} (word {i // self.weights_per_word}, {kind} {s}) is outside "
                f"[{lo[s]}, {hi[s]}] for layout {self.name} ({bad.size} weight(s) out of range)")

    def pack(self, q) -> np.ndarray:
        """1-D integer weights -> (N, lanes) uint64 words, zero-padded to whole words."""
        q = np.asarray(q)
        if q.dtype.kind not in "iu":
            raise UserError(f"layout {self.name}: weights must be integers, got dtype {q.dtype}")
        if q.ndim != 1:
            raise UserError(f"layout {self.name}: weights must be a 1-D array, got shape {q.shape}")
        q = q.astype(np.int64)
        self.check_weights(q)
        wpw, wb = self.weights_per_word, self.weight_bits
        padded = np.zeros(self.n_words(q.size) * wpw, dtype=np.int64)
        padded[:q.size] = q
        fields = (padded.reshape(-1, wpw).astype(np.uint64) & np.uint64((1 << wb) - 1))
        shifts = (np.arange(wpw, dtype=np.uint64) * np.uint64(wb))
        words = np.zeros((fields.shape[0], self.lanes), dtype=np.uint64)
        # slots never straddle a lane: every layout's data bits fit in lane 0 (<= 64)
        words[:, 0] = np.bitwise_or.reduce(fields << shifts, axis=1) if wpw else 0
        if self._engine is not None:
            words = self._engine.encode(words)
        return words

    def unpack_detail(self, words, count: int | None = None,
                      rule: str = DEFAULT_RULE) -> tuple[np.ndarray, Decoded]:
        """Decode (if the layout has a code; status under the ``err_o`` rule ``rule``) and
        unpack; Decoded.data is the corrected words (no syndromes: the lean decoder)."""
        words = as_words(words, self.lanes)
        if self._engine is not None:
            decoded = self._engine.decode(words, rule, detail=False)
        else:
            n = words.shape[0]
            decoded = Decoded(words, np.zeros(n, np.uint8), np.zeros(n, np.uint16),
                              np.full(n, -1, np.int16))
        q = self._extract(decoded.data[:, 0])
        if count is not None:
            q = q[:count]
        return q, decoded

    def unpack(self, words, count: int | None = None,
               rule: str = DEFAULT_RULE) -> tuple[np.ndarray, np.ndarray]:
        """(N, lanes) words -> (int8 weights, (N,) uint8 status)."""
        q, d = self.unpack_detail(words, count, rule)
        return q, d.status

    @functools.cached_property
    def _extract_tables(self) -> list[np.ndarray]:
        """Per 16-bit chunk of the data lane: chunk value -> its weights as packed int8.

        Sign extension (from the MSB, or from the bit below it in a throttled slot) is
        folded into the table, so unpacking is one lookup per 16 bits.
        """
        per_chunk = 16 // self.weight_bits
        n_chunks = self.weights_per_word // per_chunk
        idx = np.arange(1 << 16, dtype=np.int64)
        out_dtype = {1: np.uint8, 2: np.uint16, 4: np.uint32}[per_chunk]
        tables = []
        for c in range(n_chunks):
            weights = np.zeros((1 << 16, per_chunk), dtype=np.int8)
            for j in range(per_chunk):
                vb = int(self._value_bits[c * per_chunk + j])
                v = (idx >> (j * self.weight_bits)) & ((1 << vb) - 1)
                weights[:, j] = v - ((v >> (vb - 1)) & 1) * (1 << vb)
            tables.append(weights.view(out_dtype).reshape(-1))
        return tables

    def _extract(self, lane0: np.ndarray) -> np.ndarray:
        chunks = np.ascontiguousarray(lane0).view(np.uint16).reshape(-1, 4)
        tables = self._extract_tables
        out = np.empty((lane0.shape[0], len(tables)), dtype=tables[0].dtype)
        for c, table in enumerate(tables):
            np.take(table, chunks[:, c], out=out[:, c])
        return out.view(np.int8).reshape(-1)

    def __repr__(self) -> str:
        return f"Layout({self.name!r})"


_LAYOUTS = {
    # 8 int8 weights in a 64-bit word; 7 throttled to [-64, 63] hold the 7 check bits of (64,57)
    "inplace-8b-64": Layout("inplace-8b-64", 8, 8, tuple(range(7)), "hsiao-64-57", 64),
    # 16 int4 weights in 64 bits; 7 throttled to [-4, 3]; (64,57)
    "inplace-4b-64": Layout("inplace-4b-64", 4, 16, tuple(range(7)), "hsiao-64-57", 64),
    # 8 int4 weights in 32 bits; 6 throttled to [-4, 3]; (32,26)
    "inplace-4b-32": Layout("inplace-4b-32", 4, 8, tuple(range(6)), "hsiao-32-26", 32),
    # 8 int8 weights + 8 check bits of (72,64): 12.5 % more storage
    "ecc-8b-72": Layout("ecc-8b-72", 8, 8, (), "hsiao-72-64", 72),
    "none-8b": Layout("none-8b", 8, 8, (), None, 64),
    "none-4b": Layout("none-4b", 4, 16, (), None, 64),
}
# the CLI's choices come from accelsim.ecc.names (no numpy): the two lists are one
assert tuple(_LAYOUTS) == LAYOUT_NAMES, "accelsim.ecc.names.LAYOUT_NAMES differs from the layouts here"


def get_layout(name: str) -> Layout:
    try:
        return _LAYOUTS[str(name).strip().lower()]
    except KeyError:
        raise UserError(f"unknown layout {name!r}; known layouts: {', '.join(list_layouts())}") from None


def list_layouts() -> list[str]:
    return list(_LAYOUTS)
