"""Activation buffers in the weight SRAM's voltage domain (``activation_buffers.scaled``).

When the input/output buffers share the scaled supply, the 8-bit activations a layer
reads from them suffer bit errors from the same BER(V) curve as the weight SRAM. The
buffers hold no ECC (the weights' layouts protect weights only), so every flipped bit
reaches the PE array. Model (docs/hardware.md):

- transient: each read draws afresh; a layer's input feature map is read from the buffer
  once per inference into the array's input registers (im2col reuse and the column folds
  read those registers, not the buffer again), so each stored activation of each layer
  input gets one independent draw per inference;
- each of the 8 bits of an activation (two's complement for signed tensors, plain binary
  for unsigned ones) flips with probability BER(vdd);
- seeds are per (seed, layer, sample): the same seed gives the same bits for any batch
  size or worker count.

``ActivationFaults`` is the hook ``IntegerNetwork.input_faults`` calls at every conv and
linear input; with the hook unset the inference is the exact fault-free path.
"""

from __future__ import annotations

import numpy as np

from accelsim.faults import check_ber, flip_positions
from accelsim.seeds import rng

ACT_BITS = 8


class ActivationFaults:
    """Transient bit errors on the 8-bit activations read at each weight layer's input."""

    def __init__(self, ber: float, seed: int = 0):
        self.ber, self.seed = check_ber(ber), int(seed)
        self.flipped_bits = 0   # over all reads so far
        self.bits_read = 0

    def __call__(self, layer: str, x: np.ndarray, first_sample: int = 0, signed: bool = False) -> np.ndarray:
        """x: (batch, ...) int64 8-bit activations of one layer input (two's complement
        when ``signed``); returns a copy with the buffer's bit errors."""
        per_sample = int(np.prod(x.shape[1:])) * ACT_BITS
        self.bits_read += per_sample * len(x)
        if self.ber == 0.0:
            return x
        flat = x.reshape(len(x), -1)
        out = None
        for i in range(len(x)):
            pos = flip_positions(per_sample, self.ber, rng(self.seed, "activations", layer, first_sample + i))
            if pos.size == 0:
                continue
            if out is None:
                out = flat.copy()
            elem, bit = np.divmod(pos, ACT_BITS)
            byte = out[i] & 0xFF   # the stored byte (two's complement of a negative value)
            np.bitwise_xor.at(byte, elem, np.int64(1) << bit)   # several flips of one byte accumulate
            out[i] = byte - 256 * (byte >> 7) if signed else byte
            self.flipped_bits += int(pos.size)
        return x if out is None else out.reshape(x.shape)
