"""Activation buffers in the weight SRAM's voltage domain: bit errors on layer inputs in
the integer-exact inference (seeded, batch-independent), none when disabled, and the
buffers' energy scaled like the weight SRAM."""

import numpy as np
import pytest

from accelsim.energy import energy_of, load_table
from accelsim.campaign.params import TrialParams
from accelsim.hw import load_config, parse_config, simulate
from accelsim.hw.activations import ActivationFaults
from accelsim.image.commands import export_checkpoint
from accelsim.infer import IntegerNetwork
from accelsim.nn import load_digits_split


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    return export_checkpoint("models/lenet5-int8-wot-inplace-8b-64", "inplace-8b-64",
                             tmp_path_factory.mktemp("act") / "lenet")


@pytest.fixture(scope="module")
def digits():
    return load_digits_split().x_test.numpy()[:40]


def test_every_bit_flips_at_ber_one():
    hook = ActivationFaults(1.0, seed=0)
    x = np.array([[0, 1, 200, 255]], dtype=np.int64)
    assert hook("l", x).tolist() == [[255, 254, 55, 0]]                  # unsigned: 255 - x
    s = np.array([[0, 1, -1, 127, -127]], dtype=np.int64)
    assert hook("l", s, signed=True).tolist() == [[-1, -2, 0, -128, 126]]   # two's complement: ~x
    assert (hook.flipped_bits, hook.bits_read) == (4 * 8 + 5 * 8, 4 * 8 + 5 * 8)


def test_disabled_or_zero_ber_is_the_fault_free_path(lenet, digits):
    plain = IntegerNetwork(lenet).forward(digits)
    net = IntegerNetwork(lenet)
    assert net.input_faults is None
    net.input_faults = ActivationFaults(0.0, seed=5)
    assert np.array_equal(net.forward(digits), plain)
    assert parse_config(None).activations_scaled is False


def test_activation_faults_seeded_and_batch_independent(lenet, digits):
    net = IntegerNetwork(lenet)
    plain = net.forward(digits)
    net.input_faults = hook = ActivationFaults(2e-3, seed=7)
    a = net.forward(digits)
    flipped, read = hook.flipped_bits, hook.bits_read
    net.input_faults = ActivationFaults(2e-3, seed=7)
    b = net.forward(digits, batch=7)   # other batch boundaries: the same draws per sample
    net.input_faults = ActivationFaults(2e-3, seed=8)
    c = net.forward(digits)
    assert np.array_equal(a, b) and not np.array_equal(a, c) and not np.array_equal(a, plain)
    # the flip count is Binomial(bits read, 2e-3): within 5 sigma of its mean
    mean = read * 2e-3
    assert abs(flipped - mean) < 5 * np.sqrt(mean)
    # 5 weight layers; inputs 1x8x8 plus the conv/linear inputs of LeNet-5
    assert read == len(digits) * 8 * sum(int(np.prod(n["shape"])) for n in lenet.graph
                                         if any(n["name"] in m["inputs"] for m in lenet.graph
                                                if m["op"] in ("conv", "linear")))


def test_scaled_buffers_energy(lenet):
    table = load_table()
    for scaled in (False, True):
        cfg = parse_config({"activation_buffers": {"scaled": scaled}})
        r = simulate(lenet, cfg, vdd=0.6)
        e = energy_of(r, lenet.layout, vdd=0.6, table=table)
        u = e.units   # the energy model's per-access energies (pJ)
        nominal = sum(s.input_reads * u.input_read_per_byte
                      + s.output_writes * s.output_bits * u.output_write_per_bit
                      + s.output_reads * 32 * u.output_read_per_bit for s in r.layers)
        logic = ((table.logic_vdd or table.vdd_nominal) / table.vdd_nominal) ** 2
        factor = (0.6 / table.vdd_nominal) ** 2 if scaled else logic
        assert e.totals["buffers"] == pytest.approx(nominal * factor, rel=1e-12)


def test_campaign_trial_with_scaled_activation_buffers(lenet, tmp_path):
    from accelsim.campaign.trial import run_trial
    acc = tmp_path / "acc.yaml"
    acc.write_text("activation_buffers:\n  scaled: true\n")
    params = TrialParams(**{"campaign": "t", "model": "lenet5", "scheme": "inplace-8b-64", "checkpoint": "", "engine": "cycle",
              "fault_model": "transient", "point": "ber", "vdd": 0.6, "ber": 2e-2, "chip": 0, "repeat": 0,
              "layers": "all", "samples": 100, "policy": "pass", "seed": 0, "v_low": 0.45, "p_stuck1": 0.5,
              "accelerator": None,
              "curve": {"v_ref": 0.5, "ber_ref": 0.01, "mv_per_decade": 30.0, "v_min": 0.45, "v_max": 0.9}})
    weights_only = run_trial(params, str(lenet.path))
    both = run_trial(params.replace(accelerator=str(acc)), str(lenet.path))
    again = run_trial(params, str(lenet.path), load_config(acc))   # the campaign passes the config it read
    # the same weight faults (same residual bits), activation errors on top lower the accuracy;
    # the scaled buffers' energy is lower (campaign specs allow an accelerator with engine: cycle)
    assert both["residual_bits"] == weights_only["residual_bits"]
    assert both["energy_pj"] < weights_only["energy_pj"] and both["cycles"] == weights_only["cycles"]
    assert both["accuracy"] == again["accuracy"] < weights_only["accuracy"]
    assert run_trial(params, str(lenet.path))["accuracy"] == weights_only["accuracy"]   # hook removed
