"""SEC-DED codes: the ``Code`` object and the registry of named codes.

Names are ``<family>-<n>-<k>`` with family ``hsiao`` or ``hamming`` (extended
Hamming); the registry lists the codes the design card names, and ``get_code`` builds
any other (n, k) the construction supports (n - k >= 4, k >= 1).
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field

import numpy as np

from accelsim.ecc import construct, gf2
from accelsim.ecc.codec import Decoded, SecDedEngine, as_words
from accelsim.errors import UserError

FAMILIES = ("hsiao", "hamming")
# The codes the accelerator studies use: word widths of 64 and 32 bits for in-place ECC
# (64,57) and (32,26), the classic (72,64) DIMM/SRAM code, and the byte-sized ones.
REGISTERED = (
    "hsiao-72-64", "hsiao-64-57", "hsiao-39-32", "hsiao-32-26", "hsiao-22-16", "hsiao-13-8",
    "hamming-72-64", "hamming-64-57", "hamming-39-32", "hamming-32-26", "hamming-22-16",
    "hamming-13-8",
)
_NAME = re.compile(r"^(hsiao|hamming)-(\d+)-(\d+)$")


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
        return SecDedEngine(h_phys, g_phys, check_positions, _lanes(width))

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
        """(N,) uint16: bit i is row i of H times the codeword."""
        return self._engine.syndrome(as_words(codewords, self.lanes_out, "codewords"))

    def decode_detail(self, codewords) -> Decoded:
        """Decode with syndromes and corrected positions; ``data`` is (N, ceil(k/64))."""
        cw = as_words(codewords, self.lanes_out, "codewords")
        d = self._engine.decode(cw)
        data = d.data[:, :self.lanes_in] & self._data_mask
        return Decoded(data, d.status, d.syndrome, d.error_pos)

    def decode(self, codewords) -> tuple[np.ndarray, np.ndarray]:
        """(N, ceil(n/64)) codewords -> (data, status); status 0 clean, 1 corrected, 2 detected."""
        d = self.decode_detail(codewords)
        return d.data, d.status

    def row_weights(self) -> np.ndarray:
        return self.H.sum(axis=1).astype(int)

    def __repr__(self) -> str:
        return f"Code({self.name!r}, n={self.n}, k={self.k})"


def make_hsiao(n: int, k: int) -> Code:
    return _build("hsiao", n, k)


def make_hamming(n: int, k: int) -> Code:
    return _build("hamming", n, k)


@functools.lru_cache(maxsize=None)
def _build(family: str, n: int, k: int) -> Code:
    if k < 1 or n - k < 4 or n - k > 16:
        raise UserError(f"code {family}-{n}-{k}: need k >= 1 and 4 <= n - k <= 16")
    try:
        h = construct.hsiao_h(n, k) if family == "hsiao" else construct.hamming_h(n, k)
    except ValueError as exc:
        raise UserError(f"code {family}-{n}-{k}: {exc}") from None
    g = gf2.matmul(gf2.inverse(h[:, k:]), h[:, :k])
    h.setflags(write=False)
    g.setflags(write=False)
    return Code(f"{family}-{n}-{k}", family, n, k, h, g)


def get_code(name: str) -> Code:
    """The code called ``name`` (e.g. ``hsiao-72-64``); UserError lists the known names."""
    m = _NAME.match(str(name).strip().lower())
    if not m:
        raise UserError(f"unknown ECC code {name!r}; known codes: {', '.join(list_codes())} "
                        "(or any <hsiao|hamming>-<n>-<k> with n - k >= 4)")
    return _build(m.group(1), int(m.group(2)), int(m.group(3)))


def list_codes(family: str | None = None) -> list[str]:
    return [c for c in REGISTERED if family is None or c.startswith(family + "-")]
