"""Exact shortcuts of a fault-injection trial: the same result columns, less work.

Each shortcut returns bit for bit what the full path returns (tests/test_shortcuts.py
runs every one with and without it); none is an approximation.

- **Sparse decode.** A word the SRAM returns unchanged is a valid codeword (or a plain
  data word): it decodes to itself with status clean. So only the words whose read
  differs from the stored one are decoded, compared and unpacked; every other weight is
  the fault-free one, and every count of an unchanged word is zero.
- **Nested chip maps.** A chip's faulty cells at V are a subset of those at any lower
  voltage (accelsim.faults.chip_map samples a chip's cells once, down to ``v_low``, and
  each voltage keeps those whose threshold lies above it). A chip's decoded words at V
  are derived from the ones at the voltage it was last decoded at: a word read the same
  at both voltages keeps its decoded data and status, and only words whose read changed
  are decoded again (:class:`NestedDecodes`).
- **Fault-free outcome.** Decoded weights equal to the fault-free ones give the
  fault-free outputs without inference (a whole trial), and an unchanged layer is not
  recomputed (accelsim.infer.fast.IncrementalRun restarts at the first changed layer).
- **Content-keyed outcomes.** Two trials whose decoded networks are the same (the same
  graph, scales, biases and weights; other schemes with the same weights, other chips,
  other voltages) on the same inputs have the same outputs: the second is looked up
  (:class:`OutcomeCache`, keyed by the network's digest and the changed weights).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
from collections import Counter, OrderedDict

import numpy as np

from accelsim.image import MemoryImage

# how often each shortcut served this process's trials (the benchmarks report them)
COUNTS: Counter = Counter()


def enabled() -> bool:
    """Shortcuts on unless ACCELSIM_SHORTCUTS=0 (a switch for benchmarks and tests)."""
    return os.environ.get("ACCELSIM_SHORTCUTS", "1") != "0"


def touched_words(stored: np.ndarray, read: np.ndarray) -> np.ndarray:
    """Sorted indices of the words whose read differs from the stored word."""
    return np.flatnonzero((stored != read).any(axis=1))


class NestedDecodes:
    """The decoded words of each chip at the voltage it was last decoded at; a decode of
    the same chip at another voltage reuses every word read identically there.

    Exact for any map: decoding is a pure function of the word read, so a word read the
    same decodes the same; nesting makes the reuse large (the words faulty at V + dV are
    among those faulty at V and mostly read the same)."""

    def __init__(self, capacity: int = 256):
        self.capacity = capacity
        self.chips: OrderedDict = OrderedDict()
        self.reused = self.decoded = 0
        self.lock = threading.Lock()   # a Dask worker may run trials in threads

    def decode(self, key, layout, index: np.ndarray, read: np.ndarray, rule: str):
        """(q (len(index), weights_per_word) int8, corrected words, status) of the words
        read at ``index`` (sorted), through ``layout``; ``key`` names the chip and image."""
        with self.lock:
            prev = self.chips.get(key)
        fresh = np.ones(len(index), dtype=bool)
        q = np.empty((len(index), layout.weights_per_word), dtype=np.int8)
        data = np.empty_like(read)
        status = np.zeros(len(index), dtype=np.uint8)
        if prev is not None and len(index) and len(prev[0]):
            p_index, p_read, p_q, p_data, p_status = prev
            at = np.minimum(np.searchsorted(p_index, index), len(p_index) - 1)
            same = (p_index[at] == index) & (p_read[at] == read).all(axis=1)
            q[same], data[same], status[same] = p_q[at[same]], p_data[at[same]], p_status[at[same]]
            fresh = ~same
        if fresh.any():
            qf, dec = layout.unpack_detail(read[fresh], rule=rule)
            q[fresh] = qf.reshape(-1, layout.weights_per_word)
            data[fresh], status[fresh] = dec.data, dec.status
        with self.lock:
            self.reused += int(len(index) - fresh.sum())
            self.decoded += int(fresh.sum())
            self.chips[key] = (index, read, q, data, status)
            self.chips.move_to_end(key)
            while len(self.chips) > self.capacity:
                self.chips.popitem(last=False)
        return q, data, status


def sparse_decode_and_compare(image: MemoryImage, read: np.ndarray, policy: str, clean_weights: dict,
                              *, nested: NestedDecodes | None = None, chip_key=None, rule: str = "strict"):
    """What accelsim.campaign.trial.decode_and_compare returns for the read words ``read``
    (weights, per-layer counts, totals), decoding only the words that differ from the
    stored ones. An unchanged layer's weights are the ``clean_weights`` array itself."""
    from accelsim.campaign.trial import COUNT_KEYS, data_mask, layer_counts, zero_detected

    layout = image.layout
    mask = data_mask(layout)
    bits_per_word = int(np.bitwise_count(mask).sum())
    index = touched_words(image.words, read)
    got, truth = read[index], image.words[index]
    if nested is not None and chip_key is not None:
        q, data, status = nested.decode(chip_key, layout, index, got, rule)
    else:
        qf, dec = layout.unpack_detail(got, rule=rule)
        q, data, status = qf.reshape(-1, layout.weights_per_word), dec.data, dec.status
    wrong_data = np.bitwise_count((data ^ truth) & mask).sum(axis=1)
    if policy == "zero":   # on a copy: q may be the nested decodes' cached array
        q, wrong_data = zero_detected(q, status, truth, mask, wrong_data)
    injected = np.bitwise_count(got ^ truth).sum(axis=1)
    weights, per_layer = {}, {}
    totals = dict.fromkeys(COUNT_KEYS, 0)
    for layer in image.layers:
        lo, hi = np.searchsorted(index, [layer.word_offset, layer.word_offset + layer.n_words])
        sel = slice(lo, hi)
        counts = layer_counts(layer.n_words, injected[sel].sum(), wrong_data[sel], status[sel], bits_per_word)
        per_layer[layer.name] = counts
        for k in totals:
            totals[k] += counts[k]
        weights[layer.name] = _patched(clean_weights[layer.name], layer, index[sel], q[sel],
                                       layout.weights_per_word)
    return weights, per_layer, totals


def _patched(clean: np.ndarray, layer, words: np.ndarray, q: np.ndarray, per_word: int) -> np.ndarray:
    """The layer's weights: ``clean`` itself when the decoded words hold its values, else a
    copy with the decoded weights of ``words`` written in."""
    if len(words) == 0:
        return clean
    flat = clean.reshape(-1)
    pos = ((words - layer.word_offset)[:, None] * per_word + np.arange(per_word)).reshape(-1)
    vals = q.reshape(-1)
    keep = pos < layer.n_weights          # the last word's unused slots
    pos, vals = pos[keep], vals[keep]
    if np.array_equal(flat[pos], vals.astype(flat.dtype)):
        return clean
    out = flat.copy()
    out[pos] = vals
    return out.reshape(clean.shape)


def network_digest(image: MemoryImage, clean_weights: dict) -> str:
    """SHA-256 of everything the integer network computes with: the graph, every layer's
    quantization and shape (not where its words sit in memory) and the fault-free weights.
    Two schemes with the same weights (none-8b and ecc-8b-72 of one model) share it."""
    h = hashlib.sha256(json.dumps(image.graph, sort_keys=True, default=str).encode())
    h.update(json.dumps(list(image.input_shape)).encode())
    for layer in image.layers:
        fields = {f.name: getattr(layer, f.name) for f in dataclasses.fields(layer)
                  if f.name not in ("word_offset", "n_words")}
        for k, v in fields.items():
            h.update(k.encode())
            h.update(np.ascontiguousarray(v).tobytes() if isinstance(v, np.ndarray) else repr(v).encode())
        w = np.ascontiguousarray(clean_weights[layer.name])
        h.update(str(w.dtype).encode() + repr(w.shape).encode() + w.tobytes())
    return h.hexdigest()


def weights_key(network: str, inputs: str, weights: dict, clean_weights: dict) -> str:
    """Content key of a decoded network on one input set: the network digest, the inputs'
    key and every weight that differs from the fault-free one (layer, position, value)."""
    h = hashlib.sha256(f"{network}|{inputs}".encode())
    for name in sorted(weights):
        w, c = weights[name], clean_weights[name]
        if w is c:
            continue
        pos = np.flatnonzero(w.reshape(-1) != c.reshape(-1))
        if pos.size:
            h.update(name.encode() + b"|" + pos.astype(np.int64).tobytes() + w.reshape(-1)[pos].tobytes())
    return h.hexdigest()


class OutcomeCache:
    """Outputs of decoded networks by content key (least recently used dropped first);
    ``hits`` / ``misses`` count the look-ups."""

    def __init__(self, capacity: int = 4096):
        self.capacity = capacity
        self.entries: OrderedDict[str, np.ndarray] = OrderedDict()
        self.hits = self.misses = 0
        self.lock = threading.Lock()   # a Dask worker may run trials in threads

    def get(self, key: str):
        with self.lock:
            out = self.entries.get(key)
            if out is None:
                self.misses += 1
                return None
            self.hits += 1
            self.entries.move_to_end(key)
            return out

    def put(self, key: str, out: np.ndarray) -> None:
        with self.lock:
            self.entries[key] = out
            while len(self.entries) > self.capacity:
                self.entries.popitem(last=False)
