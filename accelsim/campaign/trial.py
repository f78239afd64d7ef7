"""One fault-injection trial: read the image's words from a faulty SRAM, decode, unpack,
run the integer network, compare with the truth.

Randomness comes only from the trial's parameters (accelsim.seeds.derive), so a trial
gives the same bits on any worker, in any order. Per-process caches hold the loaded
images, their fault-free activations and predictions and the chip maps, each keyed by
content (the image's manifest digest, the map's parameters or the measured CSV's sha256);
a trial recomputes the network only from the first layer whose decoded weights changed
(accelsim.infer.fast.IncrementalRun).
"""

from __future__ import annotations

import functools
import json
import time

import numpy as np

from accelsim.campaign import shortcuts as fast_paths
from accelsim.campaign.params import TrialParams
from accelsim.ecc import STATUS_DETECTED, data_mask, word_outcomes
from accelsim.energy.table import EnergyTable, load_table
from accelsim.faults import ChipFaultMap, curve_from_dict, inject
from accelsim.faults.chip_model import ChipModel
from accelsim.hw.config import AcceleratorConfig, load_config
from accelsim.image import MemoryImage, load_image
from accelsim.infer.fast import FastIntegerNetwork, IncrementalRun
from accelsim.infer.outcome import sdc_rates, top_classes
from accelsim.seeds import derive


def _content(image_dir: str) -> str:
    """SHA-256 of the image's manifest, which holds the sha256 of image.bin and image.hex
    (verified by load_image): the per-process caches below are keyed by the image's
    content, not only by its path, so an image re-exported in place is loaded afresh."""
    import hashlib
    from pathlib import Path
    try:
        return hashlib.sha256((Path(image_dir) / "manifest.yaml").read_bytes()).hexdigest()
    except OSError:
        return ""   # load_image reports the missing manifest


@functools.lru_cache(maxsize=16)
def _clean_weights(image_dir: str, content: str) -> dict:
    from accelsim.infer import decode_weights
    return decode_weights(load_image(image_dir))[0]


@functools.lru_cache(maxsize=8)
def _context(image_dir: str, content: str, samples: int, data_json: str | None = None):
    """The image, its incremental run (fault-free activations cached), the evaluated inputs
    and labels (None: unlabelled), the fault-free outputs, their top-5 classes and the
    fault-free accuracy (None: unlabelled). ``content`` (the image's digest) keys the cache:
    a changed image is loaded again."""
    from accelsim.nn.data import evaluation_set, parse_data

    image = load_image(image_dir)
    data = evaluation_set(parse_data(json.loads(data_json)) if data_json else None, samples)
    x, y = data.x, data.y
    if len(x) != samples:   # a row must score the inputs it says it scored
        from accelsim.errors import UserError
        raise UserError(f"samples = {samples} but the data has {len(x)} inputs")
    run = IncrementalRun(FastIntegerNetwork(image), x, weights=_clean_weights(image_dir, content))
    clean_top = top_classes(run.net, run.clean)
    baseline = None if y is None else float(np.mean(clean_top[:, 0] == y))
    return image, run, x, y, run.clean, clean_top, baseline


def pack_mask(mask: np.ndarray) -> str:
    """A per-input boolean (correct / silent corruption ...) as hex of its packed bits:
    the store keeps every trial's per-input outcome so intervals can resample inputs."""
    return np.packbits(np.asarray(mask, dtype=bool)).tobytes().hex()


def unpack_mask(text: str, n: int) -> np.ndarray:
    """The ``n`` booleans of :func:`pack_mask`."""
    return np.unpackbits(np.frombuffer(bytes.fromhex(text), dtype=np.uint8), count=n).astype(bool)




@functools.lru_cache(maxsize=64)
def _chip_map(curve_items: tuple, n_words: int, width: int, chip: int, seed: int, v_low: float,
              mode: str, p_stuck1: float, model_items: tuple = ()) -> ChipFaultMap:
    curve = curve_from_dict(dict(curve_items))
    model = ChipModel(**dict(model_items)) if model_items else None
    return ChipFaultMap.sample(curve, n_words=n_words, width=width, chip=chip, seed=seed, v_low=v_low,
                               mode=mode, p_stuck1=p_stuck1, model=model)


@functools.lru_cache(maxsize=8)
def _measured_map(path: str, sha256: str, width: int) -> ChipFaultMap:
    # sha256 is part of the cache key: an edited CSV is a different chip, and a CSV edited
    # since the spec was read is not the chip the trial's key names
    from accelsim.errors import UserError
    from accelsim.fileio import sha256_file
    cmap = ChipFaultMap.from_csv(path, width=width)
    if sha256_file(path) != sha256:
        raise UserError(f"fault map {path} changed since the campaign spec was read; run the campaign again")
    return cmap


def faulty_words(image: MemoryImage, params: TrialParams, ranges) -> np.ndarray:
    """The image's words as read from the faulty SRAM, with faults only inside ``ranges``
    (a (lo, hi) word range or a list of them)."""
    ranges = [ranges] if isinstance(ranges, tuple) else list(ranges)
    words = image.words.copy()
    width = image.layout.word_bits
    if params.fault_model == "transient":
        for i, (lo, hi) in enumerate(ranges):
            seed = derive(params.seed, "transient", _identity(params), i)
            words[lo:hi] = inject(words[lo:hi], params.ber, seed=seed, width=width)
        return words
    if params.fault_model == "measured":
        cmap = _measured_map(params.fault_map, params.fault_map_sha256, width)
        for lo, hi in ranges:
            words[lo:hi] = cmap.apply(words[lo:hi], params.vdd, word_offset=lo)
        return words
    curve_items = tuple(sorted((k, tuple(map(tuple, v)) if k == "table" else v) for k, v in params.curve.items()))
    chip_id = params.chip * 1_000_003 + params.repeat   # repeats of persistent faults are more chips
    # iid trials carry no chip_model (their keys predate it)
    model_items = tuple(sorted(params.chip_model.items())) if params.chip_model else ()
    cmap = _chip_map(curve_items, int(image.words.shape[0]), width, chip_id, params.seed, params.v_low,
                     "stuck" if params.fault_model == "stuck" else "flip", params.p_stuck1, model_items)
    for lo, hi in ranges:
        words[lo:hi] = cmap.apply(words[lo:hi], params.vdd, word_offset=lo)
    return words


def _identity(params: TrialParams) -> str:
    # the transient faults' seed source (unchanged since the params were a dict: same bits)
    return "|".join(str(getattr(params, k)) for k in ("model", "scheme", "vdd", "ber", "chip", "repeat", "layers",
                                                      "fault_model"))


def word_ranges(image: MemoryImage, selection: str) -> list[tuple[int, int]]:
    """Word ranges a selection faults: 'all', a layer name, or a layer kind ('conv', 'linear')."""
    if selection == "all":
        return [(0, int(image.words.shape[0]))]
    chosen = [layer for layer in image.layers if selection in (layer.name, layer.kind)]
    if not chosen:
        from accelsim.errors import UserError
        names = ", ".join(layer.name for layer in image.layers)
        raise UserError(f"layer selection {selection!r} matches no layer (layers: {names}; or conv, linear)")
    return [(layer.word_offset, layer.word_offset + layer.n_words) for layer in chosen]


# a trial's word and bit counts, in the store's order of its totals
COUNT_KEYS = ("injected_bits", "residual_bits", "data_bits", "words", "corrected", "detected", "miscorrected",
              "undetected")


def zero_detected(q: np.ndarray, status: np.ndarray, truth: np.ndarray, mask: np.ndarray,
                  wrong_data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Policy ``zero`` on decoded words: a copy of ``q`` ((N, weights_per_word) weights) with
    every detected word's weights 0, and the words' wrong data bits, where a zeroed word
    counts its stored data's set bits (the network uses the zeroed word, not the decoded
    one: two errors confined to check bits still change the output)."""
    detected = status == STATUS_DETECTED
    q = q.copy()
    q[detected] = 0
    return q, np.where(detected, np.bitwise_count(truth & mask).sum(axis=1), wrong_data)


def layer_counts(n_words: int, injected_bits: int, wrong_data: np.ndarray, status: np.ndarray,
                 bits_per_word: int) -> dict:
    """A layer's store counts from its words' wrong data bits and decoder status (words
    the caller did not decode, read unchanged, count nothing but ``words`` and
    ``data_bits``)."""
    return {"words": int(n_words), "injected_bits": int(injected_bits), "residual_bits": int(wrong_data.sum()),
            **word_outcomes(status, wrong_data > 0), "data_bits": int(n_words) * bits_per_word}


def decode_and_compare(image: MemoryImage, read: np.ndarray, policy: str, decoded=None) -> tuple[dict, dict, dict]:
    """Decode the read words layer by layer (or take ``decoded`` = (words, status) from the
    cycle-level ECC stage, which has applied the policy); returns (weights, per-layer counts,
    totals). ``residual_bits`` counts the data bits the network uses that differ from the
    stored ones: with policy ``zero`` a detected word counts its stored data's set bits."""
    layout = image.layout
    mask = data_mask(layout)
    bits_per_word = int(np.bitwise_count(mask).sum())
    weights, per_layer = {}, {}
    totals = dict.fromkeys(COUNT_KEYS, 0)
    for layer in image.layers:
        sl = slice(layer.word_offset, layer.word_offset + layer.n_words)
        truth, got = image.words[sl], read[sl]
        if decoded is None:
            q, dec = layout.unpack_detail(got)
            data, status = dec.data, dec.status
        else:
            data, status = decoded[0][sl], decoded[1][sl]
            q = layout.unpack(data)[0] if layout.code is None else layout._extract(np.ascontiguousarray(data[:, 0]))
        wrong_data = np.bitwise_count((data ^ truth) & mask).sum(axis=1)
        if policy == "zero" and decoded is None:   # (the cycle model's ECC stage has applied it)
            q, wrong_data = zero_detected(q.reshape(-1, layout.weights_per_word), status, truth, mask, wrong_data)
            q = q.reshape(-1)
        weights[layer.name] = q[:layer.n_weights].reshape(layer.weight_shape)
        counts = layer_counts(layer.n_words, np.bitwise_count(got ^ truth).sum(), wrong_data, status, bits_per_word)
        per_layer[layer.name] = counts
        for k in totals:
            totals[k] += counts[k]
    return weights, per_layer, totals


def _activation_faults(params: TrialParams, accelerator: AcceleratorConfig):
    """The activation buffers' bit errors of a trial whose accelerator config puts them in
    the weight SRAM's voltage domain (activation_buffers.scaled), at the trial's BER."""
    if not accelerator.activations_scaled:
        return None
    from accelsim.hw.activations import ActivationFaults
    return ActivationFaults(params.ber, seed=derive(params.seed, "activations", params.model, params.scheme,
                                                    params.vdd, params.chip, params.repeat))


def fault_free_pass(params: TrialParams, image_dir: str) -> None:
    """Load the trial's image and inputs and run the fault-free network over them (cached
    per process): the runner does this once per image before the trials, under its own
    progress label, instead of inside the first trial."""
    data_json = json.dumps(params.data, sort_keys=True) if params.data else None
    _context(image_dir, _content(image_dir), params.samples, data_json)


def _machine(params: TrialParams, accelerator: AcceleratorConfig | None,
             energy: EnergyTable | None) -> tuple[AcceleratorConfig, EnergyTable]:
    """The accelerator and energy table a trial runs with: the campaign passes the ones it
    read and validated once; a direct caller may leave them to be read from the params'
    paths. Either way they must be what the trial's key names."""
    if accelerator is None:
        accelerator = load_config(params.accelerator)
    if energy is None:
        energy = load_table(params.energy_table)
    for what, want, obj in (("accelerator", params.accelerator_sha256, accelerator),
                            ("energy table", params.energy_table_sha256, energy)):
        if want is not None and obj.digest != want:
            raise AssertionError(f"trial {params.key[:12]}: the {what} it runs with is not the one its key names")
    return accelerator, energy


def run_trial(params: TrialParams, image_dir: str, accelerator: AcceleratorConfig | None = None,
              energy: EnergyTable | None = None, *, shortcuts: bool | None = None) -> dict:
    """Run one trial; returns the result columns of the store (plus per_layer).
    ``accelerator``, ``energy``: the campaign's validated configs (None: read from the
    params' paths, the packaged ones when those are None). ``shortcuts``: take the exact
    shortcuts of accelsim.campaign.shortcuts (the same result; False runs the full path, for
    the tests that prove them exact and for benchmarks); None: on unless the environment
    sets ACCELSIM_SHORTCUTS=0 (inherited by workers)."""
    if shortcuts is None:
        shortcuts = fast_paths.enabled()
    t0 = time.perf_counter()
    accelerator, energy = _machine(params, accelerator, energy)
    data_json = json.dumps(params.data, sort_keys=True) if params.data else None
    content = _content(image_dir)
    image, run, x, y, clean, clean_top, baseline = _context(image_dir, content, params.samples, data_json)
    read = faulty_words(image, params, word_ranges(image, params.layers))
    result: dict = {}
    decoded = None
    if params.engine == "cycle":
        cycle_key = _cycle_key(content, params, accelerator, energy) if shortcuts else None
        figures = _cycle_figures(cycle_key) if shortcuts else None
        if figures is None:
            from accelsim.hw.run import simulate_trial
            sim = simulate_trial(image, read, params, accelerator, energy)
            decoded = (sim.decoded_words, sim.status)   # what left the ECC stage, burst by burst
            figures = dict(cycles=int(sim.total_cycles), energy_pj=sim.energy_pj,
                           **{f"energy_{k}": float(v) for k, v in sim.energy.items()
                              if k.endswith("_pj") and k != "total_pj"})
            if cycle_key is not None:
                _remember_cycle_figures(cycle_key, figures)
        result.update(figures)
    clean_weights = _clean_weights(image_dir, content)
    if decoded is None and shortcuts:
        chip_key = (content, params.fault_model, params.chip, params.repeat, params.layers)
        weights, per_layer, totals = fast_paths.sparse_decode_and_compare(
            image, read, params.policy, clean_weights, nested=_NESTED,
            chip_key=chip_key if params.fault_model != "transient" else None)
    else:
        weights, per_layer, totals = decode_and_compare(image, read, params.policy, decoded)
    act = _activation_faults(params, accelerator)
    if totals["residual_bits"] == 0:
        # no wrong data bit left in what the network uses (any policy): the weights are the
        # fault-free ones, and so are the logits
        # (tests/test_campaign.py checks this invariant through the full forward pass)
        if not all(np.array_equal(w, clean_weights[name]) for name, w in weights.items()):
            raise AssertionError("zero residual faulty bits but the weights differ from the fault-free image")
        out = clean
        fast_paths.COUNTS["fault_free"] += 1
    elif act is None:
        out = key = None
        if shortcuts:   # the same decoded network on the same inputs: the same outputs
            key = fast_paths.weights_key(_network_digest(image_dir, content), f"{params.samples}|{data_json}",
                                         weights, clean_weights)
            out = _OUTCOMES.get(key)
        fast_paths.COUNTS["outcome_reused" if out is not None else "inferred"] += 1
        if out is None:
            out = run.forward(weights)   # from the first changed layer on
            if key is not None:
                _OUTCOMES.put(key, out)
    if act is not None:   # activation buffers at the scaled vdd: their reads get bit errors too
        # on a copy: the cached network is shared by the threads of a Dask worker, and a
        # trial's faults set on it would reach another trial's forward pass
        import copy
        net = copy.copy(run.net)
        net.input_faults = act
        out = net.forward(x, weights)
    top = clean_top if out is clean else top_classes(run.net, out)
    correct = None if y is None else top[:, 0] == y
    accuracy = None if y is None else float(np.mean(correct))
    sdc_top1, sdc_top5 = sdc_rates(clean_top, top, int(np.prod(clean.shape[1:])))
    result.update(totals, accuracy=accuracy, correct=None if correct is None else pack_mask(correct),
                  baseline_accuracy=baseline, sdc_top1=sdc_top1, sdc_top5=sdc_top5, per_layer=per_layer,
                  seconds=time.perf_counter() - t0)
    return result


# -- exact shortcuts' per-process state (accelsim.campaign.shortcuts) ----------------------
_NESTED = fast_paths.NestedDecodes()
_OUTCOMES = fast_paths.OutcomeCache()
_CYCLES: dict = {}


@functools.lru_cache(maxsize=16)
def _network_digest(image_dir: str, content: str) -> str:
    return fast_paths.network_digest(load_image(image_dir), _clean_weights(image_dir, content))


def _cycle_key(content: str, params: TrialParams, accelerator: AcceleratorConfig, energy: EnergyTable):
    """What a trial's cycles and energy depend on when no word is read again: the image,
    the accelerator and energy table (their digests), the voltage and the policy. Under the
    ``pass`` and ``zero`` policies the ECC stage neither stalls nor re-reads, so timing and
    action counts are the same for every chip (tests/test_shortcuts.py checks it against
    the SimPy run of faulty chips); ``reread`` and transient faults are never reused."""
    if params.policy not in ("pass", "zero") or params.fault_model == "transient":
        return None
    return (content, accelerator.digest, energy.digest, params.vdd, params.policy)


def _cycle_figures(key) -> dict | None:
    figures = None if key is None else _CYCLES.get(key)
    fast_paths.COUNTS["cycle_reused" if figures is not None else "cycle_simulated"] += 1
    return figures


def _remember_cycle_figures(key, figures: dict) -> None:
    if len(_CYCLES) >= 4096:
        _CYCLES.clear()
    _CYCLES[key] = figures
