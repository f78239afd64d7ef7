"""Structure of a simulated chip's faults on top of the BER(V) curve.

The ``iid`` model draws every cell's failure from one curve, independently (the
earlier and still available model). The ``clustered`` model adds what Salami et al.'s
28 nm measurements show (docs/faults.md gives the figures each parameter was fitted to):

- a per-chip Vmin shift: the chip reads the curve at V - delta, delta ~ N(0, sd)
  (die-to-die spread; sd fitted to the 10-24 mV between the two boards at equal BER,
  which two boards pin down only loosely);
- per-array clustering: each array of ``array_bits`` cells (a 16 kbit block RAM) has its
  rate multiplied by G ~ Gamma(shape k, mean 1); k = 0.10 makes the top 10 % of arrays
  hold ~82 % of the faults and leaves ~640 of 890 arrays empty, as one board does at 0.53 V;
- direction: a faulty cell flips only while it stores its vulnerable value (``1to0``:
  a stored 1 reads 0, every fault the data set shows; ``0to1``; ``both``: flips whatever
  it holds; or a share of 1->0 cells, the rest 0->1).

A chip is nested in voltage under every model: a cell's threshold is fixed, so a cell
faulty at V stays faulty below V.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from accelsim.errors import UserError

DIRECTIONS = ("both", "1to0", "0to1")


@dataclass(frozen=True)
class ChipModel:
    """How one chip's faulty cells are drawn (volts of the BER curve for the shift)."""

    name: str = "iid"
    vmin_shift_sd: float = 0.0        # V (curve volts): sd of the per-chip Vmin shift; 0: none
    cluster_shape: float | None = None  # gamma shape k of the per-array rate multiplier; None: none
    array_bits: int = 16384           # cells per array (one rate multiplier each)
    direction: str | float = "both"   # both | 1to0 | 0to1 | share of 1->0 cells in [0, 1]

    def __post_init__(self):
        if not (self.vmin_shift_sd >= 0 and self.vmin_shift_sd < 1):
            raise UserError(f"chip model {self.name}: vmin_shift_sd = {self.vmin_shift_sd} V must be in [0, 1)")
        if self.cluster_shape is not None and not self.cluster_shape > 0:
            raise UserError(f"chip model {self.name}: cluster_shape = {self.cluster_shape} must be > 0")
        if not self.array_bits >= 1:
            raise UserError(f"chip model {self.name}: array_bits = {self.array_bits} must be >= 1")
        if isinstance(self.direction, str):
            if self.direction not in DIRECTIONS:
                raise UserError(f"chip model {self.name}: direction {self.direction!r}: expected "
                                f"{', '.join(DIRECTIONS)} or a share of 1->0 cells in [0, 1]")
        elif not 0.0 <= float(self.direction) <= 1.0:
            raise UserError(f"chip model {self.name}: direction share {self.direction} must be in [0, 1]")

    @property
    def is_iid(self) -> bool:
        return self.vmin_shift_sd == 0 and self.cluster_shape is None and self.direction == "both"

    @property
    def share_1to0(self) -> float | None:
        """Share of cells that fail 1->0 (the rest 0->1); None for cells that flip either way."""
        if self.direction == "both":
            return None
        return {"1to0": 1.0, "0to1": 0.0}.get(self.direction, self.direction)

    def params(self) -> dict:
        """JSON-able parameters (part of a trial's key)."""
        return asdict(self)


# Fitted to Salami et al.'s VC707 and KC705-B counts and bit images (docs/faults.md,
# benchmarks/salami_counts.py): sd 13 mV = the mean 18 mV gap of the two boards / sqrt 2;
# k = 0.10 = top 10 % of arrays hold 82 %, 640 of 890 arrays empty at 0.53 V; 1->0 only.
PRESETS = {
    "iid": ChipModel(),
    "clustered": ChipModel(name="clustered", vmin_shift_sd=0.013, cluster_shape=0.10, array_bits=16384,
                           direction="1to0"),
}


def chip_model(value) -> ChipModel:
    """A preset by name, a :class:`ChipModel`, or a mapping of its fields (with a name)."""
    if isinstance(value, ChipModel):
        return value
    if isinstance(value, str):
        if value not in PRESETS:
            raise UserError(f"chip model {value!r}: expected one of {', '.join(PRESETS)} (or a mapping)")
        return PRESETS[value]
    if isinstance(value, dict):
        try:
            return ChipModel(**value)
        except TypeError as exc:
            raise UserError(f"chip model {value!r}: {exc}") from None
    raise UserError(f"chip model {value!r}: expected a name or a mapping")
