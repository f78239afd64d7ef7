"""SEC-DED codes: the ``Code`` object and the registry of named codes.

Names are ``<family>-<n>-<k>`` with family ``hsiao`` or ``hamming`` (extended
Hamming), plus ``-inv`` for the inverted variant; the registry lists the codes the
design card names, and ``get_code`` builds any other (n, k) the construction supports
(n - k >= 4, k >= 1).

Inverted codes (as OpenTitan's ``inv_hsiao`` / ``inv_hamming``) store some check bits
inverted, so that neither the all-zero nor the all-one word (a stuck or unpowered
memory) is a codeword. Which check bits: the first set of them, smallest first (and even
in size where possible), for which both of those words decode as uncorrectable under
both ``err_o`` rules; failing that under the strict rule; failing that merely not clean.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
from dataclasses import dataclass, field

import numpy as np

from accelsim.ecc import construct, gf2
from accelsim.ecc.codec import DEFAULT_RULE, Decoded, SecDedEngine, as_words, check_rule
from accelsim.errors import UserError

FAMILIES = ("hsiao", "hamming")
# The codes the accelerator studies use: word widths of 64 and 32 bits for in-place ECC
# (64,57) and (32,26), the classic (72,64) DIMM/SRAM code, and the byte-sized ones.
REGISTERED = (
    "hsiao-72-64", "hsiao-64-57", "hsiao-39-32", "hsiao-32-26", "hsiao-22-16", "hsiao-13-8",
    "hamming-72-64", "hamming-64-57", "hamming-39-32", "hamming-32-26", "hamming-22-16",
    "hamming-13-8",
)
_NAME = re.compile(r"^(hsiao|hamming)-(\d+)-(\d+)(-inv)?$")


def _lanes(bits: int) -> int:
    return (bits + 63) // 64


@dataclass(frozen=True, eq=False)
class Code:
    """A systematic binary SEC-DED code.

    Codeword bits 0..k-1 are the data bits, k..n-1 the check bits. ``H`` is the (r, n)
    parity-check matrix, ``G`` the (r, k) check-bit equations: check bit i is the XOR of
    data bits j with ``G[i, j] == 1``.
    """

    name: str
    family: str
    n: int
    k: int
    H: np.ndarray
    G: np.ndarray = field(repr=False)
    inverted: bool = False
    invert: np.ndarray = field(default=None, repr=False)   # (n,) 0/1: bits stored inverted

    @property
    def r(self) -> int:
        return self.n - self.k

    @property
    def lanes_in(self) -> int:
        return _lanes(self.k)

    @property
    def lanes_out(self) -> int:
        return _lanes(self.n)

    @functools.cached_property
    def columns(self) -> np.ndarray:
        """(n,) int64: column j of H as an integer (row i is bit i), the syndrome of bit j."""
        return gf2.column_values(self.H)

    @functools.cached_property
    def parity_mask(self) -> int:
        """The r-bit u with u . h_j = 1 for every column j: u . syndrome is the parity of the
        number of flipped bits (all ones for Hsiao, the overall-parity row for Hamming)."""
        u = gf2.matmul(np.ones((1, self.r), np.uint8), gf2.inverse(self.H[:, self.k:]))[0]
        if not np.all(gf2.matmul(u[None, :], self.H)[0] == 1):
            raise AssertionError(f"{self.name}: no syndrome parity vector (not a SEC-DED H)")
        return int(sum(int(b) << i for i, b in enumerate(u)))

    @functools.cached_property
    def invert_word(self) -> int:
        """The n-bit word of inverted positions (0 for a plain code)."""
        return 0 if self.invert is None else int(sum(1 << int(j) for j in np.flatnonzero(self.invert)))

    @functools.cached_property
    def invert_syndrome(self) -> int:
        """H . invert_word: the constant an inverted decoder XORs into its syndrome."""
        return int(np.bitwise_xor.reduce(self.columns[np.flatnonzero(self.invert)])) if self.inverted else 0

    def status_table(self, rule: str = "strict") -> np.ndarray:
        """(2**r,) uint8: the status (0/1/2) of every syndrome under ``rule``."""
        return self._engine.status_tables[check_rule(rule)]

    @functools.cached_property
    def h_sha256(self) -> str:
        """Fingerprint of H, written into generated RTL headers."""
        return hashlib.sha256(np.ascontiguousarray(self.H).tobytes()).hexdigest()

    def engine(self, data_positions=None, check_positions=None, width=None) -> SecDedEngine:
        """A codec engine with the code's bits at the given physical positions.

        By default the systematic positions (data 0..k-1, checks k..n-1).
        """
        data_positions = np.arange(self.k) if data_positions is None else np.asarray(data_positions)
        check_positions = (np.arange(self.k, self.n) if check_positions is None
                           else np.asarray(check_positions))
        width = self.n if width is None else width
        h_phys = np.zeros((self.r, width), dtype=np.uint8)
        h_phys[:, data_positions] = self.H[:, :self.k]
        h_phys[:, check_positions] = self.H[:, self.k:]
        g_phys = np.zeros((self.r, width), dtype=np.uint8)
        g_phys[:, data_positions] = self.G
        lanes = _lanes(width)
        invert = np.zeros(lanes, dtype=np.uint64)
        if self.inverted:
            for j in np.flatnonzero(self.invert):
                p = int(data_positions[j] if j < self.k else check_positions[j - self.k])
                invert[p // 64] |= np.uint64(1) << np.uint64(p % 64)
        return SecDedEngine(h_phys, g_phys, check_positions, lanes, self.parity_mask, invert)

    @functools.cached_property
    def _engine(self) -> SecDedEngine:
        return self.engine()

    @functools.cached_property
    def _data_mask(self) -> np.ndarray:
        mask = np.full(self.lanes_in, np.uint64(0xFFFF_FFFF_FFFF_FFFF), dtype=np.uint64)
        if self.k % 64:
            mask[-1] = np.uint64((1 << (self.k % 64)) - 1)
        return mask

    def _data_to_words(self, data) -> np.ndarray:
        data = as_words(data, self.lanes_in, "data")
        if np.any(data & ~self._data_mask):
            raise ValueError(f"{self.name}: data words have bits set above bit {self.k - 1}")
        words = np.zeros((data.shape[0], self.lanes_out), dtype=np.uint64)
        words[:, :self.lanes_in] = data
        return words

    def encode(self, data) -> np.ndarray:
        """(N, ceil(k/64)) uint64 data -> (N, ceil(n/64)) uint64 codewords."""
        return self._engine.encode(self._data_to_words(data))

    def syndrome(self, codewords) -> np.ndarray:
        """(N,) uint16: bit i is row i of H times the codeword (inverted codes: times the
        codeword with its inverted bits restored, as the decoder's syndrome_o)."""
        return self._engine.syndrome(as_words(codewords, self.lanes_out, "codewords"))

    def decode_detail(self, codewords, rule: str = DEFAULT_RULE) -> Decoded:
        """Decode with syndromes and corrected positions; ``data`` is (N, ceil(k/64))."""
        cw = as_words(codewords, self.lanes_out, "codewords")
        if self.lanes_in == self.lanes_out:   # the data lanes masked in the decoder's own pass
            d = self._engine.decode(cw, rule, keep=self._data_mask)
            data = d.data
        else:
            d = self._engine.decode(cw, rule)
            data = d.data[:, :self.lanes_in] & self._data_mask
        return Decoded(data, d.status, d.syndrome, d.error_pos)

    def decode(self, codewords, rule: str = DEFAULT_RULE) -> tuple[np.ndarray, np.ndarray]:
        """(N, ceil(n/64)) codewords -> (data, status); status 0 clean, 1 corrected, 2 detected
        (``rule``: strict or parity, see :data:`accelsim.ecc.codec.RULES`). The lean pass:
        the data lanes alone, masked as they are written."""
        d = self._engine.decode(as_words(codewords, self.lanes_out, "codewords"), rule,
                                keep=self._data_mask[:self.lanes_in], detail=False, lanes_out=self.lanes_in)
        return d.data, d.status

    def row_weights(self) -> np.ndarray:
        return self.H.sum(axis=1).astype(int)

    def __repr__(self) -> str:
        return f"Code({self.name!r}, n={self.n}, k={self.k})"


def make_hsiao(n: int, k: int, inverted: bool = False) -> Code:
    return _build("hsiao", n, k, inverted)


def make_hamming(n: int, k: int, inverted: bool = False) -> Code:
    return _build("hamming", n, k, inverted)


def _inversion(h: np.ndarray, k: int, parity_mask: int) -> np.ndarray:
    """The (n,) 0/1 vector of check bits stored inverted (see the module docstring)."""
    r, n = h.shape
    cols = gf2.column_values(h)
    colset = set(int(c) for c in cols)
    all_ones = int(np.bitwise_xor.reduce(cols))

    def detected(s: int, rule: str) -> bool:
        if s == 0:
            return False
        return s not in colset if rule == "strict" else (bin(s & parity_mask).count("1") % 2 == 0)

    sizes = sorted(range(1, r + 1), key=lambda m: (m % 2, m))   # even sizes first, then odd
    for want in (("strict", "parity"), ("strict",), ()):
        for size in sizes:
            for subset in itertools.combinations(range(k, n), size):
                s0 = int(np.bitwise_xor.reduce(cols[list(subset)]))
                s1 = s0 ^ all_ones
                if s0 and s1 and all(detected(s, rule) for s in (s0, s1) for rule in want):
                    inv = np.zeros(n, dtype=np.uint8)
                    inv[list(subset)] = 1
                    return inv
    raise ValueError("no inversion makes both the all-zero and all-one words non-codewords")


@functools.lru_cache(maxsize=None)
def _build(family: str, n: int, k: int, inverted: bool = False) -> Code:
    if k < 1 or n - k < 4 or n - k > 16:
        raise UserError(f"code {family}-{n}-{k}: need k >= 1 and 4 <= n - k <= 16")
    try:
        h = construct.hsiao_h(n, k) if family == "hsiao" else construct.hamming_h(n, k)
    except ValueError as exc:
        raise UserError(f"code {family}-{n}-{k}: {exc}") from None
    g = gf2.matmul(gf2.inverse(h[:, k:]), h[:, :k])
    h.setflags(write=False)
    g.setflags(write=False)
    code = Code(f"{family}-{n}-{k}", family, n, k, h, g)
    if not inverted:
        return code
    inv = _inversion(h, k, code.parity_mask)
    inv.setflags(write=False)
    return Code(f"{family}-{n}-{k}-inv", family, n, k, h, g, True, inv)


def get_code(name: str) -> Code:
    """The code called ``name`` (e.g. ``hsiao-72-64``); UserError lists the known names."""
    m = _NAME.match(str(name).strip().lower())
    if not m:
        raise UserError(f"unknown ECC code {name!r}; known codes: {', '.join(list_codes())} "
                        "(or any <hsiao|hamming>-<n>-<k>[-inv] with n - k >= 4)")
    return _build(m.group(1), int(m.group(2)), int(m.group(3)), bool(m.group(4)))


def list_codes(family: str | None = None, *, inverted: bool = False) -> list[str]:
    """Registered code names (of one family); ``inverted=True`` adds the ``-inv`` variants."""
    names = [c for c in REGISTERED if family is None or c.startswith(family + "-")]
    return names + [c + "-inv" for c in names] if inverted else names
