"""Accelerator presets (resident, streamed, published designs), enforced activation storage
and accumulators: counts and energies against hand computation."""

import math

import pytest

from accelsim.energy import energy_of, load_table
from accelsim.errors import UserError
from accelsim.hw import load_config, parse_config, plan, simulate
from accelsim.hw.config import preset_names
from accelsim.image.commands import export_checkpoint


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    return export_checkpoint("models/lenet5-int8", "ecc-8b-72", tmp_path_factory.mktemp("pr") / "lenet")


def test_every_preset_loads_by_name_and_says_what_it_models():
    assert {"resident", "streamed", "tpu-v1", "eyeriss", "minerva"} <= set(preset_names())
    for name in preset_names():
        cfg = load_config(name)
        assert cfg.preset == name and cfg.cell == "itrs-lstp"
    tpu, eye, res = load_config("tpu-v1"), load_config("eyeriss"), load_config("resident")
    assert (tpu.rows, tpu.cols, tpu.accumulator_depth, tpu.input_kib + tpu.output_kib) == (256, 256, 4096, 24 * 1024)
    assert (eye.rows * eye.cols, eye.dataflow, eye.input_kib + eye.output_kib) == (168, "os", 108)
    assert res.resident and res.fit and load_config("streamed").storage == "staging"
    # a user file overrides a preset section by section
    cfg = parse_config({"preset": "resident", "pe_array": {"rows": 8}})
    assert (cfg.rows, cfg.cols, cfg.resident) == (8, 16, True)
    with pytest.raises(UserError, match="preset 'tpu' is not one of"):
        parse_config({"preset": "tpu"})
    with pytest.raises(UserError, match="words_per_bank or words"):
        parse_config({"weight_sram": {"words": 1024, "words_per_bank": 128}})


def test_resident_sram_is_sized_to_the_image_and_never_refilled(lenet):
    res = simulate(lenet, "resident")
    n = lenet.words.shape[0]
    assert res.config.words_per_bank == max(math.ceil(n / 8), math.ceil(2 * 256 / 8))
    assert res.config.sram_words >= n and all(s.dram_bytes == 0 for s in res.layers)
    streamed = simulate(lenet, "streamed")
    assert sum(s.dram_bytes for s in streamed.layers) == n * 72 // 8   # loaded from DRAM in the run
    # the decoded words do not depend on where the weights came from
    assert (res.decoded_words == streamed.decoded_words).all()
    # a 72-bit bank of ceil(n / 8) words, per 64 bits read (Horowitz points, log-log)
    rep = energy_of(res, lenet.layout, vdd=0.9, table=load_table())
    kib = res.config.words_per_bank * 72 / 8 / 1024
    assert rep.units.sram_read_per_bit == pytest.approx(load_table().sram_read_pj(kib) / 64)
    assert rep.totals["dram"] == 0.0
    with pytest.raises(UserError, match="resident but the SRAM holds 64 words"):
        simulate(lenet, parse_config({"weight_sram": {"resident": True, "words": 64, "burst_words": 16}}))


def test_accumulators_take_the_partial_sums_and_chunk_m():
    p = plan(12544, 147, 64, 16, 16, "ws", accumulator_depth=4096)
    assert (p.weight_passes, p.cycles_per_fold) == (4, 4 * (2 * 16 + 16 - 2) + 12544)
    assert plan(12544, 147, 64, 16, 16, "ws").weight_passes == 1


def test_partial_sums_in_accumulators_are_priced_as_such(lenet):
    table = load_table()
    plain, acc = simulate(lenet, "streamed"), simulate(lenet, "resident")
    e = energy_of(acc, lenet.layout, vdd=0.9, table=table)
    for sp, sa, layer in zip(plain.layers, acc.layers, lenet.layers):
        m, _, n = layer.gemm
        assert (sa.accumulator_writes, sa.accumulator_reads) == (sp.output_writes, sp.output_reads)
        assert (sa.output_writes, sa.output_reads, sa.output_bits) == (m * n, 0, 8)
    acc_kib = 4096 * 4 / 1024            # one column's bank of 4096 32-bit partial sums
    want = sum(s.accumulator_writes * table.sram_write_pj(acc_kib) / 2 + s.accumulator_reads
               * table.sram_read_pj(acc_kib) / 2 for s in acc.layers)
    assert e.totals["accumulators"] == pytest.approx(want) and want > 0


def test_a_layer_whose_output_exceeds_the_buffer_spills_to_dram(lenet):
    """Output buffer of 100 bytes: the first conv's 8-bit outputs do not fit; what does not fit
    goes to DRAM and is priced per byte. Its partial sums stay on chip: M is processed in
    chunks of the rows the buffer holds per column (100 // 64 = 1), re-reading the weights."""
    cfg = parse_config({"preset": "streamed", "buffers": {"output_kib": 100 / 1024}})
    assert cfg.psum_tiling
    res = simulate(lenet, cfg)
    layer, s = lenet.layers[0], res.layers[0]
    m, k, n = layer.gemm
    assert s.spill_bytes == m * n - 100 > 0
    assert s.weight_passes == m and simulate(lenet, "streamed").layers[0].weight_passes == 1
    # without the tiling (SCALE-Sim's order): partial sums beyond the buffer go to DRAM and back
    folds = math.ceil(k / 16)
    plain = simulate(lenet, parse_config({"buffers": {"output_kib": 100 / 1024}}))
    assert plain.layers[0].spill_bytes == (m * n * 4 - 100) * (2 * folds - 1) + (m * n - 100)
    roomy = simulate(lenet, parse_config({}))
    assert roomy.layers[0].spill_bytes == 0
    table = load_table()
    e, e0 = energy_of(res, lenet.layout, vdd=0.9, table=table), energy_of(roomy, lenet.layout, vdd=0.9, table=table)
    assert e.per_layer[0]["dram"] - e0.per_layer[0]["dram"] == pytest.approx(s.spill_bytes * 160.0)
    # an input feature map beyond the input buffer is re-read from DRAM once per column fold
    small_in = simulate(lenet, parse_config({"buffers": {"input_kib": 64 / 1024}}))
    first = lenet.layers[0]
    h, w = first.input_hw
    in_bytes = first.in_channels * h * w
    assert small_in.layers[0].spill_bytes == (in_bytes - 64) * math.ceil(n / 16)


def test_the_three_savings_and_the_design_comparison_by_hand():
    """energy_savings on hand-made rows: each saving against its named reference voltage."""
    from accelsim.campaign.store import ENERGY_COLUMNS
    from accelsim.energy import voltage_factors
    from accelsim.faults import curve_params, load_curve
    from accelsim.report.build import energy_savings, first_error_voltage

    def row(scheme, vdd, sram, leak, rest):
        comps = dict.fromkeys(ENERGY_COLUMNS, 0.0)
        comps.update(energy_sram_dynamic_pj=sram, energy_sram_leakage_pj=leak, energy_mac_pj=rest)
        return {"model": "m", "scheme": scheme, "vdd": vdd, "layers": "all", "words": 1000,
                "energy_pj": sram + leak + rest, **comps}

    rows = [row("none-8b", 0.9, 100.0, 10.0, 890.0), row("inplace-8b-64", 0.9, 101.0, 10.0, 890.0),
            row("inplace-8b-64", 0.6, 40.0, 2.0, 890.0)]
    head = [{"model": "m", "scheme": "inplace-8b-64", "v_nominal": 0.9, "vmin_safe": 0.6}]
    curve = load_curve()
    table = load_table()
    meta = {"curve": curve_params(curve), "energy_values": {"vdd_nominal": 0.9, "dibl_per_volt": table.dibl_per_volt}}
    s = energy_savings(rows, head, meta)[0]
    assert s["domain_saved"] == pytest.approx(1 - 42 / 111)
    assert s["whole_saved"] == pytest.approx(1 - 932 / 1001)
    assert s["design_reference"] == "none-8b" and s["design_saved"] == pytest.approx(1 - 932 / 1000)
    assert s["weight_sram_share"] == pytest.approx(111 / 1001)
    v_fe = first_error_voltage(curve_params(curve), 1000 * 64)
    assert curve.ber(v_fe) * 64000 == pytest.approx(1.0, rel=1e-6) or v_fe in (curve.v_min, curve.v_max)
    assert s["v_first_error"] == pytest.approx(min(v_fe, 0.9))
    dyn, leak = voltage_factors(table, s["v_first_error"])
    assert s["total_first_error_pj"] == pytest.approx(101 * dyn + 10 * leak + 890)
    if 0.6 <= s["v_first_error"]:
        assert s["below_first_error_saved"] == pytest.approx(1 - 932 / s["total_first_error_pj"])
