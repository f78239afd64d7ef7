"""Energy model: hand-computed per-action energy, V^2 scaling, leakage model, tables."""

import math

import pytest
import yaml

from accelsim.energy import energy_of, load_table, table_from_dict, voltage_factors
from accelsim.energy.model import decoder_cells
from accelsim.errors import UserError
from accelsim.hw import parse_config, simulate
from accelsim.image.commands import export_checkpoint


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    return export_checkpoint("models/lenet5-int4-wot-inplace-4b-64", "inplace-4b-64",
                             tmp_path_factory.mktemp("en") / "lenet")


def test_voltage_factors():
    t = load_table()
    dyn, leak = voltage_factors(t, 0.45)
    assert dyn == pytest.approx(0.25)
    assert leak == pytest.approx(0.5 * math.exp(4.27 * -0.45))
    assert voltage_factors(t, 0.9) == pytest.approx((1.0, 1.0))
    # calibrated to Yang & Murmann (ISQED 2017, 28 nm): 4.8x less leakage 280 mV below nominal,
    # 5.4x at 310 mV (the fit gives 5.7x there)
    assert 1 / voltage_factors(t, 0.62)[1] == pytest.approx(4.8, rel=0.005)
    assert 1 / voltage_factors(t, 0.59)[1] == pytest.approx(5.4, rel=0.07)


def test_energy_hand_computed_for_one_layer(lenet):
    table = load_table()
    result = simulate(lenet, parse_config({}))
    rep = energy_of(result, lenet.layout, vdd=0.9, table=table)
    s = result.layers[0]                       # features.0: 10 words, 64 x 25 x 6 GEMM
    e = rep.per_layer[0]
    # one bank: 32768 words x 64 bit = 256 KiB, between Horowitz's 32 KB (20 pJ) and 1 MB
    # (100 pJ) points: 20 x 8^(log 5 / log 32) pJ per 64-bit read
    bank_read = 20.0 * 8 ** (math.log(5) / math.log(32))
    assert bank_read == pytest.approx(52.5306, abs=1e-4)
    assert s.sram_read_bits == 10 * 64
    assert e["sram_dynamic"] == pytest.approx(10 * bank_read)
    assert e["mac"] == pytest.approx(64 * 25 * 6 * 0.20)                 # 4-bit x 8-bit MAC
    assert e["registers"] == pytest.approx(64 * 25 * 6 * (8 + 32) * 0.009)  # ws flip-flops: activation + psum
    assert e["ecc"] == pytest.approx(10 * decoder_cells("hsiao-64-57") * 0.002 * 0.3)
    # CACTI itrs-lstp: 0.248 uW per KiB; at 500 MHz a cycle is 2 ns
    assert e["sram_leakage"] == pytest.approx(s.cycles * (8 * 32768 * 64 / 8 / 1024) * 0.248e-6 * 2e-9 * 1e12)
    buf64 = 20.0 * 2 ** (math.log(5) / math.log(32))                    # a 64 KiB buffer's 64-bit read
    wr64 = 17.65 * 2 ** (math.log(86.45 / 17.65) / math.log(32))         # ... and write (CACTI points)
    # K = 25 on 16 rows: two row folds, the first's partial sums written and read back
    assert (s.output_writes, s.output_reads, s.accumulator_writes) == (64 * 6 * 2, 64 * 6, 0)
    assert e["buffers"] == pytest.approx(s.input_reads * buf64 / 8 + s.output_writes * wr64 / 2
                                         + s.output_reads * buf64 / 2)
    assert e["dram"] == 0.0                   # the image stays resident in the 2 MiB SRAM
    assert rep.total_pj == pytest.approx(sum(rep.totals.values()))
    low = energy_of(result, lenet.layout, vdd=0.45, table=table)
    assert low.totals["sram_dynamic"] == pytest.approx(rep.totals["sram_dynamic"] * 0.25)
    assert low.totals["mac"] == rep.totals["mac"] and low.total_pj < rep.total_pj


def test_sram_fit_reproduces_the_cited_points_and_grows_with_the_macro(lenet):
    t = load_table()
    for kib, pj in ((8, 10.0), (32, 20.0), (1024, 100.0)):   # Horowitz, ISSCC 2014, 45 nm
        assert t.sram_read_pj(kib) == pytest.approx(pj, rel=1e-12)
    sizes = [1, 4, 8, 16, 32, 100, 256, 1024, 4096]
    reads = [t.sram_read_pj(k) for k in sizes]
    assert all(a < b for a, b in zip(reads, reads[1:]))
    # the same image on a machine with bigger banks pays more per read and more leakage
    small = simulate(lenet, parse_config({"weight_sram": {"banks": 8, "words_per_bank": 4096}}))
    big = simulate(lenet, parse_config({"weight_sram": {"banks": 8, "words_per_bank": 65536}}))
    es, eb = energy_of(small, lenet.layout, vdd=0.9), energy_of(big, lenet.layout, vdd=0.9)
    assert es.units.sram_read_per_bit < eb.units.sram_read_per_bit
    assert es.units.sram_leak_per_cycle * 16 == pytest.approx(eb.units.sram_leak_per_cycle)
    assert es.totals["sram_dynamic"] < eb.totals["sram_dynamic"]
    # more banks of the same total: smaller arrays, cheaper reads
    split = simulate(lenet, parse_config({"weight_sram": {"banks": 32, "words_per_bank": 8192}}))
    assert energy_of(split, lenet.layout, vdd=0.9).units.sram_read_per_bit < energy_of(
        simulate(lenet, parse_config({})), lenet.layout, vdd=0.9).units.sram_read_per_bit


def test_user_sram_table_overrides_the_fit():
    d = yaml.safe_load(open("accelsim/configs/energy.yaml"))
    d["actions"]["sram_read_pj_per_64b"] = {256: 40.0}
    t = table_from_dict(d)
    assert t.sram_read_pj(256) == 40.0 and t.sram_read_pj(8) == 40.0   # one point: a constant
    d["actions"]["sram_read_pj_per_64b"] = {"big": 1.0}
    with pytest.raises(UserError, match=r"actions.sram_read_pj_per_64b.big: must be a number \(got 'big'\)"):
        table_from_dict(d)


def test_stronger_code_and_wider_words_cost_more(lenet, tmp_path):
    img72 = export_checkpoint("models/lenet5-int8", "ecc-8b-72", tmp_path / "e")
    img8 = export_checkpoint("models/lenet5-int8", "none-8b", tmp_path / "n")
    r72 = energy_of(simulate(img72), img72.layout, vdd=0.9)
    r8 = energy_of(simulate(img8), img8.layout, vdd=0.9)
    # 72/64 more bits per read, and a bank of 72-bit words is a 72/64 bigger array
    slope = math.log(5) / math.log(32)
    assert r72.totals["sram_dynamic"] == pytest.approx(r8.totals["sram_dynamic"] * (72 / 64) ** (1 + slope))
    assert r8.totals["ecc"] == 0 and r72.totals["ecc"] > 0
    assert decoder_cells("hsiao-72-64") > decoder_cells("hsiao-64-57") > decoder_cells("hsiao-32-26")
    from accelsim.energy import decoder_area_um2
    assert decoder_area_um2("hsiao-72-64") > decoder_area_um2("hsiao-32-26") > 0 == decoder_area_um2(None)


def test_user_table_validation(tmp_path):
    d = yaml.safe_load(open("accelsim/configs/energy.yaml"))
    del d["actions"]["dram_pj_per_byte"]
    with pytest.raises(UserError, match=r"energy table: actions.dram_pj_per_byte: missing \(required\)"):
        table_from_dict(d)
    d = yaml.safe_load(open("accelsim/configs/energy.yaml"))
    d["actions"]["mac_pj"] = {8: 0.3}
    t = table_from_dict(d)
    assert t.mac(8) == 0.3
    with pytest.raises(UserError, match="no mac_pj entry for 4x8-bit"):
        t.mac(4)
    p = tmp_path / "bad.yaml"
    p.write_text("vdd_nominal: 0.9\nactions: [1, 2]")
    with pytest.raises(UserError, match=r"bad.yaml: actions: must be a mapping \(got \[1, 2\]\)"):
        load_table(p)


@pytest.mark.parametrize("edit,match", [
    # issue 15: a typo in an action name used to leave that energy at its default
    (lambda d: d["actions"].__setitem__("dram_pj_per_bytes", 100.0),
     r"actions: unknown field 'dram_pj_per_bytes' \(did you mean 'dram_pj_per_byte'\?\)"),
    (lambda d: d["actions"].__setitem__("ecc_gate_switch_pj", float("nan")),
     r"actions.ecc_gate_switch_pj: must be a finite number"),
    (lambda d: d["actions"].__setitem__("ecc_activity", 1.5), r"actions.ecc_activity: must be <= 1"),
    (lambda d: d["actions"]["mac_pj"].__setitem__("4x16", 0.3), r"actions.mac_pj"),
    (lambda d: d["actions"]["mac_pj"].__setitem__(8, -0.3), r"actions.mac_pj\[8\]: must be >= 0"),
    (lambda d: d["actions"]["mac_pj"].__setitem__(16, 0.3), r"actions.mac_pj"),
    (lambda d: d.__setitem__("vdd_nominal", "0.9"), r"vdd_nominal: must be a number \(got '0.9'\)"),
    (lambda d: d.__setitem__("count_dram", "Auto"), r"count_dram: .*did you mean 'auto'"),
    (lambda d: d.__setitem__("leakage", {}), r"unknown field 'leakage' \(did you mean 'leakage_model'\?\)"),
])
def test_bad_energy_tables_name_the_field(edit, match):
    d = yaml.safe_load(open("accelsim/configs/energy.yaml"))
    edit(d)
    with pytest.raises(UserError, match=match):
        table_from_dict(d)


@pytest.fixture(scope="module")
def lenet_a4(tmp_path_factory):
    """LeNet-5 with 4-bit weights and 4-bit activations (QAT), exported for inplace-4b-64."""
    from accelsim.nn import save_checkpoint
    from accelsim.nn.train import TrainConfig, train
    d = tmp_path_factory.mktemp("a4")
    model, card = train(TrainConfig(model="lenet5", init="models/lenet5-fp32", bits=4, layout="inplace-4b-64",
                                    epochs=0, qat_epochs=1, lr=1e-3, act_bits=4), show_progress=False)
    card["command"] = "test"
    save_checkpoint(model, d / "l4", card)
    return export_checkpoint(str(d / "l4"), "inplace-4b-64", d / "img")


def test_each_layer_is_priced_at_its_own_input_width(lenet, lenet_a4):
    """4-bit activations: the first layer multiplies the 8-bit input image (4x8 MACs), every
    later layer a 4-bit ReLU output (4x4 MACs, half a byte per input-buffer read)."""
    result = simulate(lenet_a4, parse_config({}))
    assert [s.activation_bits for s in result.layers] == [8, 4, 4, 4, 4]
    assert result.actions()["mac_ops"] == {"4x8": result.layers[0].macs,
                                           "4x4": sum(s.macs for s in result.layers[1:])}
    rep = energy_of(result, lenet_a4.layout, vdd=0.9, table=load_table())
    buf64 = 20.0 * 2 ** (math.log(5) / math.log(32))
    wr64 = 17.65 * 2 ** (math.log(86.45 / 17.65) / math.log(32))
    for s, e in zip(result.layers, rep.per_layer):
        assert e["mac"] == pytest.approx(s.macs * (0.20 if s.activation_bits == 8 else 0.15))
        assert e["registers"] == pytest.approx(s.macs * (s.activation_bits + 32) * 0.009)   # ws: + 32-bit psum
        assert e["buffers"] == pytest.approx(s.input_reads * buf64 / 8 * s.activation_bits / 8
                                             + s.output_writes * wr64 / 2 + s.output_reads * buf64 / 2)
    # the same network with 8-bit activations: every MAC 4x8, the same counts
    eight = energy_of(simulate(lenet, parse_config({})), lenet.layout, vdd=0.9, table=load_table())
    macs = [s.macs for s in result.layers]
    assert eight.totals["mac"] == pytest.approx(sum(macs) * 0.20)
    assert rep.totals["mac"] == pytest.approx(macs[0] * 0.20 + sum(macs[1:]) * 0.15)


def test_a_table_without_the_images_mac_width_is_refused_before_any_trial(lenet_a4, tmp_path):
    from accelsim.campaign import parse_spec, run_campaign
    d = yaml.safe_load(open("accelsim/configs/energy.yaml"))
    del d["actions"]["mac_pj"]["4x4"]
    (tmp_path / "e.yaml").write_text(yaml.safe_dump(d))
    spec = parse_spec({"name": "a4", "models": {"l4": {"images": {"inplace-4b-64": str(lenet_a4.path)}}},
                       "schemes": ["inplace-4b-64"], "voltages": [0.9], "engine": "cycle",
                       "energy_table": "e.yaml", "samples": 50}, tmp_path)
    with pytest.raises(UserError, match=r"^energy table: no mac_pj entry for 4x4-bit operands \(has 1x2, "):
        run_campaign(spec, tmp_path / "a4.db", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.yaml"]
