"""Vectorized SEC-DED encoding and decoding over packed uint64 words.

Words are arrays of shape (N, lanes) uint64; bit j of a word lives in lane j // 64 at
position j % 64 (little-endian lanes). Nothing here loops over words or bits: the
parity of every syndrome or check bit is the XOR of per-bit column values over the set
bits of a word, computed with one 65,536-entry lookup table per 16-bit chunk
(:class:`XorTables`). Decoding looks the syndrome up in a 2**r-entry table (status and
error position) and flips the erroneous bit only in the rare words whose syndrome is
nonzero, so a clean stream costs a few table lookups per word.

:class:`SecDedEngine` works on *physical* bit positions: a layout that hides check bits
in the MSBs of throttled weights uses the same engine with the code's columns placed
at the physical positions, so no bit is ever shuffled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accelsim.ecc import gf2
from accelsim.ecc.names import DEFAULT_RULE, RULES  # noqa: F401  (re-exported)

STATUS_CLEAN = 0
STATUS_CORRECTED = 1
STATUS_DETECTED = 2

# How a nonzero syndrome is classified (the decoder's ``err_o``; the names live in
# accelsim.ecc.names so the CLI offers them without numpy):
#   strict: corrected only when the syndrome equals a column of H (a single error);
#           any other nonzero syndrome is uncorrectable.
#   parity: corrected when the syndrome's overall parity (u . s, u with u . h_j = 1 for every
#           column) is odd, i.e. an odd number of bits flipped; OpenTitan prim_secded's rule.
# Both correct a bit only where the syndrome equals its column, so they differ only on
# odd-weight syndromes that match no column (3+ errors). docs/rtl.md gives the trade-off.


def check_rule(rule: str, where: str = "ecc rule") -> str:
    """The rule name, or UserError naming the bad value."""
    if rule not in RULES:
        from accelsim.errors import UserError
        raise UserError(f"{where} {rule!r} is not one of {', '.join(RULES)}")
    return rule

_CHUNK = 16
_ONE = np.uint64(1)
_ALL_ONES = np.full(8, -1, dtype=np.int64)


@dataclass(frozen=True)
class Decoded:
    """Result of decoding N words.

    data: the decoded data (for a code: (N, ceil(k/64)) uint64; for a layout: the
    corrected physical words); status: (N,) uint8, 0 clean / 1 corrected / 2 detected;
    syndrome: (N,) uint16; error_pos: (N,) int16, the corrected bit position or -1 (both
    None from a decode without ``detail``: the lean pass does not keep them).
    """

    data: np.ndarray
    status: np.ndarray
    syndrome: np.ndarray | None
    error_pos: np.ndarray | None


def as_words(words, lanes: int, what: str = "words") -> np.ndarray:
    """Check and normalise a word array to C-contiguous (N, lanes) uint64."""
    arr = np.asarray(words)
    if arr.dtype != np.uint64:
        raise ValueError(f"{what} must be uint64, got dtype {arr.dtype}")
    if arr.ndim == 1 and lanes == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != lanes:
        raise ValueError(f"{what} must have shape (N, {lanes}), got {arr.shape}")
    return np.ascontiguousarray(arr)


class XorTables:
    """XOR of per-bit integer values over the set bits of each word.

    ``bit_values[j]`` is the value contributed by bit j (an r-bit column of H or G);
    the result for a word is the XOR of the values of its set bits, as uint16.
    """

    def __init__(self, bit_values: np.ndarray, lanes: int):
        n_bits = len(bit_values)
        padded = np.zeros(lanes * 64, dtype=np.uint16)
        padded[:n_bits] = np.asarray(bit_values, dtype=np.uint16)
        idx = np.arange(1 << _CHUNK, dtype=np.uint32)
        self.tables: list[tuple[int, np.ndarray]] = []
        for c in range(lanes * 64 // _CHUNK):
            vals = padded[c * _CHUNK:(c + 1) * _CHUNK]
            if not vals.any():
                continue
            table = np.zeros(1 << _CHUNK, dtype=np.uint16)
            for b in np.flatnonzero(vals):
                table ^= (((idx >> b) & 1) * vals[b]).astype(np.uint16)
            self.tables.append((c, table))
        self.lanes = lanes

    def __call__(self, words: np.ndarray) -> np.ndarray:
        chunks = words.view(np.uint16) if words.dtype.byteorder in "=<|" else words.astype("<u8").view(np.uint16)
        out = np.zeros(words.shape[0], dtype=np.uint16)
        for c, table in self.tables:
            out ^= table[chunks[:, c]]
        return out


class SecDedEngine:
    """SEC-DED over physical bit positions.

    H_phys: (r, width) 0/1, column p is the H column of the bit stored at physical
    position p (zero for positions outside the code, e.g. unused bits).
    G_phys: (r, width) 0/1, check bit i = XOR of the data bits p with G_phys[i, p].
    check_positions: the r physical positions holding the check bits.
    parity_mask: the r-bit vector u with u . h_j = 1 for every column (the parity rule).
    invert_mask: (lanes,) uint64 of the physical bits stored inverted (inverted codes: the
    encoder XORs them in, the decoder XORs them out before the syndrome); None for none.
    """

    def __init__(self, h_phys: np.ndarray, g_phys: np.ndarray, check_positions, lanes: int,
                 parity_mask: int = 0, invert_mask: np.ndarray | None = None):
        r, width = h_phys.shape
        self.r, self.width, self.lanes = r, width, lanes
        self.check_positions = np.asarray(check_positions, dtype=np.int64)
        cols = gf2.column_values(h_phys)
        self.columns = cols              # syndrome of a single error at each physical position
        self._syndrome = XorTables(cols, lanes)
        self._checks = XorTables(gf2.column_values(g_phys), lanes)
        # status (per rule) / error position for every possible syndrome
        used = np.flatnonzero(h_phys.any(axis=0))
        self.pos_table = np.full(1 << r, -1, dtype=np.int16)
        self.pos_table[cols[used]] = used
        strict = np.full(1 << r, STATUS_DETECTED, dtype=np.uint8)
        strict[cols[used]] = STATUS_CORRECTED
        syndromes = np.arange(1 << r, dtype=np.int64)
        odd = (np.bitwise_count(syndromes & int(parity_mask)) & 1).astype(bool)
        parity = np.where(odd, STATUS_CORRECTED, STATUS_DETECTED).astype(np.uint8)
        strict[0] = parity[0] = STATUS_CLEAN
        for table in (strict, parity):
            table.setflags(write=False)   # shared with Code.status_table and the RTL generator
        self.status_tables = {"strict": strict, "parity": parity}
        self.status_table = self.status_tables[DEFAULT_RULE]
        self.invert_mask = (None if invert_mask is None or not np.any(invert_mask)
                            else np.asarray(invert_mask, dtype=np.uint64))
        # mask of the check-bit positions per lane (cleared before check bits are set)
        self.check_mask = np.zeros(lanes, dtype=np.uint64)
        for p in self.check_positions:
            self.check_mask[p // 64] |= _ONE << np.uint64(p % 64)
        from accelsim.ecc import kernels
        self._byte_tables = kernels.byte_tables(cols, lanes)
        self._flat_tables = self._byte_tables.reshape(-1)   # a view: the same entries
        self._syndrome_offset = int(0 if self.invert_mask is None
                                          else self._syndrome(self.invert_mask[None, :])[0])

    def syndrome(self, words: np.ndarray) -> np.ndarray:
        """(N,) uint16 syndromes of the stored words (after undoing any inversion)."""
        return self._syndrome(words if self.invert_mask is None else words ^ self.invert_mask)

    def encode(self, words: np.ndarray) -> np.ndarray:
        """Words with data bits set (check positions ignored) -> full codewords."""
        out = words & ~self.check_mask
        checks = self._checks(out).astype(np.uint64)
        first = int(self.check_positions[0])
        contiguous = np.array_equal(self.check_positions, np.arange(first, first + self.r))
        if contiguous and first // 64 == (first + self.r - 1) // 64:
            out[:, first // 64] |= checks << np.uint64(first % 64)  # systematic: one shift
        else:
            for i, p in enumerate(self.check_positions):
                out[:, p // 64] |= ((checks >> np.uint64(i)) & _ONE) << np.uint64(p % 64)
        if self.invert_mask is not None:
            out ^= self.invert_mask
        return out

    def decode(self, words: np.ndarray, rule: str = DEFAULT_RULE, keep: np.ndarray | None = None, *,
               detail: bool = True, lanes_out: int | None = None) -> Decoded:
        """Correct single errors on a copy; report status per word under ``rule``.
        One compiled pass (accelsim.ecc.kernels), bit-identical to :meth:`decode_reference`;
        ``keep`` (uint64 per lane): the corrected words are ANDed with it (a code's data bits).
        Without ``detail`` the syndromes and error positions are not kept (the lean kernel,
        about 1.5x faster) and only the first ``lanes_out`` lanes of each word are returned."""
        from accelsim.ecc import kernels
        table = self.status_tables[check_rule(rule)]
        words = np.ascontiguousarray(words, dtype=np.uint64)
        n = words.shape[0]
        if not detail:
            lanes_out = self.lanes if lanes_out is None else lanes_out
            data = np.empty((n, lanes_out), dtype=np.uint64)
            status = np.empty(n, dtype=np.uint8)
            keep = _ALL_ONES[:lanes_out] if keep is None else np.ascontiguousarray(keep, dtype=np.uint64).view(np.int64)
            kernels.decode_lean(words.reshape(-1).view(np.int64), words.shape[1], self._flat_tables,
                                self._syndrome_offset, table, self.pos_table, data.reshape(-1).view(np.int64),
                                lanes_out, keep, status)
            return Decoded(data, status, None, None)
        corrected = np.empty_like(words)
        status = np.empty(n, dtype=np.uint8)
        syndrome = np.empty(n, dtype=np.uint16)
        error_pos = np.empty(n, dtype=np.int16)
        kernels.decode(words.reshape(-1).view(np.int64), words.shape[1], self._byte_tables,
                       self._syndrome_offset, table, self.pos_table, corrected.reshape(-1).view(np.int64),
                       status, syndrome, error_pos, _ALL_ONES[:self.lanes] if keep is None
                       else np.ascontiguousarray(keep, dtype=np.uint64).view(np.int64))
        return Decoded(corrected, status, syndrome, error_pos)

    def decode_reference(self, words: np.ndarray, rule: str = DEFAULT_RULE) -> Decoded:
        """The vectorized numpy decoder (16-bit XOR tables, fixes only nonzero syndromes):
        the independent reference of :meth:`decode`."""
        table = self.status_tables[check_rule(rule)]
        syndrome = self.syndrome(words)
        n = words.shape[0]
        status = np.zeros(n, dtype=np.uint8)
        error_pos = np.full(n, -1, dtype=np.int16)
        corrected = words.copy()
        nz = np.flatnonzero(syndrome)
        if nz.size:
            s = syndrome[nz]
            status[nz] = table[s]
            pos = self.pos_table[s]
            fix = pos >= 0
            rows, pos = nz[fix], pos[fix].astype(np.int64)
            error_pos[rows] = pos
            corrected[rows, pos // 64] ^= _ONE << (pos % 64).astype(np.uint64)
        return Decoded(corrected, status, syndrome, error_pos)
