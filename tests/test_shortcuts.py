"""The exact shortcuts of a trial (accelsim.campaign.shortcuts): each gives the same
result columns as the full path, bit for bit."""

import numpy as np
import pytest

from accelsim.campaign import Store, parse_spec, run_campaign
from accelsim.campaign import shortcuts
from accelsim.campaign.trial import decode_and_compare
from accelsim.image.commands import export_checkpoint
from accelsim.infer import decode_weights

from test_campaign import MODELS, spec, stable


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("shortcuts")
    return {layout: export_checkpoint(f"{MODELS}/lenet5-{variant}", layout, root / layout)
            for layout, variant in [("none-8b", "int8"), ("ecc-8b-72", "int8"),
                                    ("inplace-8b-64", "int8-wot-inplace-8b-64"),
                                    ("inplace-4b-32", "int4-wot-inplace-4b-32")]}


def _flip_some(words, rng, n_words, max_bits):
    """A copy with 1..max_bits random flips in each of n_words random words."""
    read = words.copy()
    width = 64 * words.shape[1]
    for w in rng.choice(len(words), size=n_words, replace=False):
        for p in rng.choice(width, size=rng.integers(1, max_bits + 1), replace=False):
            read[w, p // 64] ^= np.uint64(1) << np.uint64(p % 64)
    return read


@pytest.mark.parametrize("layout", ["none-8b", "ecc-8b-72", "inplace-8b-64", "inplace-4b-32"])
@pytest.mark.parametrize("policy", ["pass", "zero"])
def test_sparse_decode_equals_the_full_decode(images, layout, policy):
    """Decoding only the words read differently gives decode_and_compare's weights,
    per-layer counts and totals; unchanged layers are the fault-free arrays themselves;
    the nested per-chip decode (reusing a chip's words at another voltage) gives the same."""
    img = images[layout]
    clean = decode_weights(img)[0]
    rng = np.random.default_rng(7)
    nested = shortcuts.NestedDecodes()
    low = _flip_some(img.words, rng, 60, 3)                  # a chip at a low voltage
    high = low.copy()                                         # the same chip higher: a subset
    restore = rng.choice(np.flatnonzero((low != img.words).any(axis=1)), 25, replace=False)
    high[restore] = img.words[restore]
    for read in (low, high, img.words.copy(), low):
        want = decode_and_compare(img, read, policy)
        got = shortcuts.sparse_decode_and_compare(img, read, policy, clean, nested=nested, chip_key="c")
        plain = shortcuts.sparse_decode_and_compare(img, read, policy, clean)
        for g in (got, plain):
            assert g[1] == want[1] and g[2] == want[2]
            assert list(g[1]) == list(want[1]) and list(g[2]) == list(want[2])
            for name, w in want[0].items():
                assert g[0][name].dtype == w.dtype and np.array_equal(g[0][name], w)
                assert (g[0][name] is clean[name]) == np.array_equal(w, clean[name])
    assert want[2]["injected_bits"] > 0 and nested.reused > 0 and nested.decoded > 0


def _rows(tmp_path, name, monkeypatch, enabled, **kw):
    from accelsim.campaign import trial
    monkeypatch.setenv("ACCELSIM_SHORTCUTS", "1" if enabled else "0")
    # each run starts with empty per-process caches (another test's outcomes would serve it)
    monkeypatch.setattr(trial, "_OUTCOMES", shortcuts.OutcomeCache())
    monkeypatch.setattr(trial, "_NESTED", shortcuts.NestedDecodes())
    monkeypatch.setattr(trial, "_CYCLES", {})
    shortcuts.COUNTS.clear()
    run_campaign(parse_spec(spec(**kw)), tmp_path / f"{name}.sqlite", workers=1, progress=False)
    counts = dict(shortcuts.COUNTS)
    return stable(Store(tmp_path / f"{name}.sqlite").rows()), counts


@pytest.mark.slow
@pytest.mark.parametrize("engine,policy,fault_model", [("fast", "pass", "persistent"), ("cycle", "zero", "stuck"),
                                                       ("fast", "pass", "transient")])
def test_campaign_rows_identical_with_and_without_shortcuts(tmp_path, monkeypatch, engine, policy, fault_model):
    """A whole campaign stores the same rows with every shortcut on and with none; the
    shortcuts did serve trials (fault-free outcomes, reused outcomes, reused cycle figures)."""
    kw = dict(schemes=["none-8b", "ecc-8b-72", "inplace-8b-64"], voltages=[0.53, 0.50, 0.49, 0.48],
              chips=2, samples=100, engine=engine, policy=policy, fault_model=fault_model)
    if fault_model == "transient":
        kw.update(voltages=None, bers=[1e-5, 1e-4])
    fast, counts = _rows(tmp_path, "on", monkeypatch, True, **kw)
    if engine == "fast" and fault_model == "persistent":
        # the same decoded networks again (another store): every inference is looked up
        shortcuts.COUNTS.clear()
        run_campaign(parse_spec(spec(**kw)), tmp_path / "again.sqlite", workers=1, progress=False)
        assert stable(Store(tmp_path / "again.sqlite").rows()) == fast
        assert shortcuts.COUNTS["outcome_reused"] == counts["inferred"] > 0 and not shortcuts.COUNTS["inferred"]
    full, off = _rows(tmp_path, "off", monkeypatch, False, **kw)
    assert fast == full and len(fast) == 3 * 2 * len(kw.get("voltages") or kw["bers"])
    assert not {"outcome_reused", "cycle_reused"} & set(off)
    assert counts["fault_free"] > 0 and counts["inferred"] > 0
    if engine == "cycle":
        assert counts["cycle_reused"] > 0 and counts["cycle_simulated"] == 3 * 4


def test_network_digest_is_shared_by_schemes_with_the_same_weights(images):
    """none-8b and ecc-8b-72 of one checkpoint compute the same network (one digest: their
    identical decoded images are evaluated once); a throttled in-place image does not."""
    digest = {k: shortcuts.network_digest(img, decode_weights(img)[0]) for k, img in images.items()}
    assert digest["none-8b"] == digest["ecc-8b-72"] != digest["inplace-8b-64"]
    clean = decode_weights(images["none-8b"])[0]
    changed = {k: v.copy() for k, v in clean.items()}
    name = next(iter(changed))
    changed[name].reshape(-1)[5] ^= 1
    keys = {shortcuts.weights_key(digest["none-8b"], "64", w, clean) for w in (clean, changed)}
    assert len(keys) == 2 and shortcuts.weights_key(digest["none-8b"], "32", clean, clean) not in keys
