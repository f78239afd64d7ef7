"""``accelsim simulate``: one cycle-level run of a memory image at a weight-SRAM voltage."""

from __future__ import annotations

from accelsim import cliargs

import json

from accelsim.nn.data import add_data_arguments


def register(sub) -> None:
    p = sub.add_parser("simulate", help="run a memory image through the cycle-level accelerator")
    p.add_argument("--image", required=True, help="memory image directory (accelsim export)")
    p.add_argument("--vdd", type=cliargs.number(0, 100, lo_open=True), default=None, help="weight-SRAM supply voltage in volts (default: nominal)")
    p.add_argument("--chip", type=cliargs.integer(0, 2**31 - 1), default=None, help="simulated chip (its persistent fault map; default 0)")
    p.add_argument("--seed", type=cliargs.seed, default=0)
    p.add_argument("--ber", type=cliargs.number(0, 0.5), default=None, help="transient bit error rate instead of the chip's map")
    p.add_argument("--fault-model", choices=("persistent", "stuck"), default=None,
                   help="the chip's cells flip or are stuck (default persistent)")
    p.add_argument("--config", default=None, help="accelerator YAML (default: accelsim/configs/accelerator.yaml)")
    p.add_argument("--fault-map", default=None, help="measured fault map CSV (word,bit[,vmin][,type]) instead of --chip")
    p.add_argument("--v-low", type=cliargs.number(0, 100, lo_open=True), default=None,
                   help="lowest voltage the chip's map is sampled for (default: --vdd); fix it to compare "
                        "one chip at several voltages (maps are nested)")
    p.add_argument("--curve", default=None, help="BER(V) curve YAML (default: accelsim/configs/ber_curve.yaml)")
    p.add_argument("-o", "--out", default=None, help="write the per-layer results as JSON")
    p.add_argument("--trace", default=None, help="write a Chrome trace-event timeline (Perfetto)")
    add_data_arguments(p, "also report accuracy and SDC at this voltage on this data (its test split)")
    p.add_argument("--samples", type=int, default=None, help="with --data: a fixed seeded subset of this many inputs")
    p.set_defaults(func=cmd_simulate)


def _check_fault_options(args) -> None:
    """One fault source per run: an option the chosen source does not use is an error, not
    silently dropped."""
    from accelsim.errors import UserError

    chip_opts = [name for name, v in (("--chip", args.chip), ("--fault-model", args.fault_model),
                                      ("--v-low", args.v_low)) if v is not None]
    if args.ber is not None and args.fault_map is not None:
        raise UserError("--ber (transient flips) and --fault-map (a measured chip) are two fault sources: give one")
    source = "--ber" if args.ber is not None else "--fault-map" if args.fault_map is not None else None
    if source and chip_opts:
        raise UserError(f"{', '.join(chip_opts)} describe a sampled chip and are not used with {source}")
    if args.fault_map is not None and args.curve is not None:
        raise UserError("--curve is not used with --fault-map (the map gives every cell's threshold)")
    if args.ber is not None and args.curve is not None:
        raise UserError("--curve is not used with --ber (the rate is given)")


def cmd_simulate(args) -> int:
    from accelsim.console import get_console
    from accelsim.errors import UserError
    from rich.table import Table

    from accelsim.energy import energy_of
    from accelsim.faults import ChipFaultMap, load_curve
    from accelsim.fileio import atomic_write_text
    from accelsim.hw import load_config, simulate
    from accelsim.image import load_image

    from accelsim.nn.data import data_from_args

    _check_fault_options(args)
    from accelsim.fileio import check_output_file
    for option, path in (("-o", args.out), ("--trace", args.trace)):
        if path is not None:      # refused before the run, not after it
            check_output_file(path, f"{option} file")
    image = load_image(args.image)
    data = None
    if args.data is not None or args.samples is not None:
        from accelsim.errors import UserError
        if args.samples is not None and args.samples < 1:
            raise UserError(f"--samples {args.samples} must be >= 1")
        data = data_from_args(args)
        from accelsim.campaign.sources import image_classes
        from accelsim.nn.data import check_fits, evaluation_set
        check_fits(evaluation_set(data, args.samples), image.input_shape, image_classes(image), f"image {args.image}")
    cfg = load_config(args.config)
    vdd = cfg.vdd_nominal if args.vdd is None else args.vdd
    if args.v_low is not None and args.v_low > vdd:
        raise UserError(f"--v-low {args.v_low} V is above the supply {vdd} V: the chip's map would miss every "
                        "cell failing between them (use a floor at or below --vdd)")
    if args.ber is not None:        # transient flips at a given rate
        result = simulate(image, cfg, vdd=vdd, ber=args.ber, seed=args.seed, trace=args.trace)
        source = f"transient BER {result.faults['ber']:.2e}"
    elif args.fault_map is not None:   # a measured map
        fmap = ChipFaultMap.from_csv(args.fault_map, n_words=image.words.shape[0], width=image.layout.word_bits)
        result = simulate(image, cfg, vdd=vdd, fault_map=fmap, seed=args.seed, trace=args.trace)
        f = result.faults
        source = (f"measured map {args.fault_map}: {f['faulty_cells']:,} faulty cells at this voltage "
                  f"(rate {f['faulty_cells'] / f['bits']:.2e}), {f['wrong_bits']:,} stored bits read wrong")
    else:                           # the chip's persistent map at vdd
        chip, model = args.chip or 0, args.fault_model or "persistent"
        result = simulate(image, cfg, vdd=vdd, chip=chip, fault_model=model, curve=load_curve(args.curve),
                          v_low=args.v_low, seed=args.seed, trace=args.trace)
        f = result.faults
        # the curve's rate is what the map applies to cells; the chip's own share is one draw
        # of it, and a stuck-at cell makes an error only where the stored bit differs
        rate = "BER" if model == "persistent" else "cell fault rate"
        source = (f"chip {chip} ({model}), {rate} {f['ber']:.2e}: {f['faulty_cells']:,} faulty cells "
                  f"= {f['faulty_cells'] / f['bits']:.2e} of the bits, {f['wrong_bits']:,} stored bits read wrong")
    ber = result.faults.get("ber")
    if ber is None and result.faults.get("bits"):   # a measured map: the share of its cells faulty at vdd
        ber = result.faults["faulty_cells"] / result.faults["bits"]
    report = energy_of(result, image.layout, vdd=vdd)
    result.energy_pj, result.energy = report.total_pj, report.summary()
    t = Table(title=f"{args.image}: weight SRAM at {vdd:.3f} V, {source}, {cfg.rows}x{cfg.cols} "
                    f"{cfg.dataflow.upper()}, layout {image.layout.name}")
    cols = ("layer", "GEMM MxKxN", "cycles", "compute", "stall", "util", "SRAM words", "DRAM B",
            "corr", "det", "miscorr", "undet", "re-reads", "energy nJ")
    for c in cols:
        t.add_column(c, justify="right" if c != "layer" else "left")
    for s, e in zip(result.layers, report.per_layer):
        t.add_row(s.name, "x".join(map(str, s.gemm)), f"{s.cycles:,}", f"{s.compute_cycles:,}", f"{s.stall_cycles:,}",
                  f"{s.utilization:.2f}", f"{s.sram_read_words:,}", f"{s.dram_bytes:,}", str(s.corrected),
                  str(s.detected), str(s.miscorrected), str(s.undetected), str(s.rereads), f"{e['total'] / 1e3:.2f}")
    console = get_console()
    console.print(t)
    console.print(f"total {result.total_cycles:,} cycles ({result.total_cycles / cfg.clock_mhz:.1f} us at "
                  f"{cfg.clock_mhz:g} MHz), energy {report.total_pj / 1e3:.2f} nJ per inference, "
                  f"simulated in {result.wall_seconds:.2f} s")
    quality = {}
    if data is not None:
        quality = output_quality(image, data, args.samples, result.weights)
        acc = "no labels" if quality["accuracy"] is None else (
            f"accuracy {quality['accuracy']:.4f} (fault-free {quality['baseline_accuracy']:.4f})")
        console.print(f"{data.text}, {quality['inputs']} inputs at {vdd:.3f} V: {acc}; SDC top-1 "
                      f"{quality['sdc_top1'] * 100:.2f} %" + ("" if quality["sdc_top5"] is None else
                                                              f", top-5 {quality['sdc_top5'] * 100:.2f} %"))
    if args.out:
        atomic_write_text(args.out, json.dumps({"image": str(args.image), "ber": ber, "chip": result.faults.get("chip"),
                                                **result.to_dict(), "energy_per_layer": report.per_layer,
                                                **({"data": data.text, **quality} if data is not None else {})},
                                               indent=1))
    return 0


def output_quality(image, data, samples, weights) -> dict:
    """Accuracy (None without labels) and top-1/top-5 SDC rates of ``weights`` (as read at
    the voltage) against the fault-free image, on ``data``."""
    import numpy as np

    from accelsim.campaign.trial import sdc_rates, top_classes
    from accelsim.infer import IntegerNetwork
    from accelsim.nn.data import evaluation_set

    ds = evaluation_set(data, samples)
    net = IntegerNetwork(image)
    out = net.forward(ds.x)
    clean, faulty = top_classes(net, out), top_classes(net, net.forward(ds.x, weights))
    sdc1, sdc5 = sdc_rates(clean, faulty, int(np.prod(out.shape[1:])))
    labelled = ds.y is not None
    return {"inputs": int(len(ds.x)), "accuracy": float(np.mean(faulty[:, 0] == ds.y)) if labelled else None,
            "baseline_accuracy": float(np.mean(clean[:, 0] == ds.y)) if labelled else None,
            "sdc_top1": sdc1, "sdc_top5": sdc5}
