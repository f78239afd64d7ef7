"""``accelsim simulate``: one cycle-level run of a memory image at a weight-SRAM voltage."""

from __future__ import annotations

import json

from accelsim import cliargs
from accelsim.cliargs import add_data_arguments


def register(sub) -> None:
    p = sub.add_parser("simulate", help="run a memory image through the cycle-level accelerator")
    what = p.add_argument_group("what runs (one of --image, --topology)")
    src = what.add_mutually_exclusive_group(required=True)
    src.add_argument("--image", help="memory image directory (accelsim export)")
    src.add_argument("--topology", help="SCALE-Sim topology CSV (conv and GEMM rows); weights are seeded (--seed)")
    what.add_argument("--layout", default=None,
                      help="ECC layout of a --topology's seeded weights (default ecc-8b-72); an --image has its own")
    what.add_argument("--seed", type=cliargs.seed, default=0,
                      help="seed of a --topology's weights and of the fault draws (same seed, same bits)")
    hw = p.add_argument_group("accelerator")
    hw.add_argument("--config", default=None,
                    help="accelerator YAML, or a preset name: resident, streamed, tpu-v1, eyeriss, minerva "
                         "(default: accelsim/configs/accelerator.yaml, i.e. streamed)")
    hw.add_argument("--scalesim-config", default=None,
                    help="SCALE-Sim .cfg: its array, dataflow and SRAM sizes override the accelerator config")
    hw.add_argument("--vdd", type=cliargs.number(0, 100, lo_open=True), default=None,
                    help="weight-SRAM supply voltage in volts (default: nominal)")
    faults = p.add_argument_group("faults (a sampled chip by default; or --ber, or --fault-map)")
    faults.add_argument("--chip", type=cliargs.integer(0, 2**31 - 1), default=None,
                        help="simulated chip (its persistent fault map; default 0)")
    faults.add_argument("--fault-model", choices=("persistent", "stuck"), default=None,
                        help="the chip's cells flip or are stuck (default persistent)")
    faults.add_argument("--v-low", type=cliargs.number(0, 100, lo_open=True), default=None,
                        help="lowest voltage the chip's map is sampled for (default: --vdd); fix it to compare "
                             "one chip at several voltages (maps are nested)")
    faults.add_argument("--curve", default=None,
                        help="BER(V) curve YAML (default: accelsim/configs/ber-salami-vc707.yaml, measured 28 nm)")
    faults.add_argument("--ber", type=cliargs.number(0, 0.5), default=None,
                        help="transient bit error rate instead of the chip's map")
    faults.add_argument("--fault-map", default=None,
                        help="measured fault map CSV (word,bit[,vmin][,type]) instead of --chip")
    quality = p.add_argument_group("output quality (optional)")
    add_data_arguments(quality, "also report accuracy and SDC at this voltage on this data (its test split)")
    quality.add_argument("--samples", type=int, default=None, help="with --data: a fixed seeded subset of this many inputs")
    out = p.add_argument_group("outputs")
    out.add_argument("-o", "--out", default=None, help="write the per-layer results as JSON")
    out.add_argument("--reports", default=None,
                     help="directory for SCALE-Sim style COMPUTE/BANDWIDTH/DETAILED_ACCESS_REPORT.csv")
    out.add_argument("--trace", default=None, help="write a Chrome trace-event timeline (Perfetto)")
    out.add_argument("--trace-folds", action="store_true", help="one trace event per PE-array fold")
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
    from accelsim.errors import UserError
    from accelsim.schema.data_source import data_from_args

    _check_fault_options(args)
    if args.topology is not None and (args.data is not None or args.samples is not None):
        raise UserError("--data and --samples need --image: a --topology's weights are seeded, there is no "
                        "trained network to score")
    if args.samples is not None and args.samples < 1:
        raise UserError(f"--samples {args.samples} must be >= 1")
    # a bad --data is refused before numpy, torch and SimPy are imported
    data = data_from_args(args) if args.data is not None or args.samples is not None else None
    from rich.table import Table

    from accelsim.console import get_console
    from accelsim.energy import energy_of
    from accelsim.faults import ChipFaultMap, load_curve
    from accelsim.fileio import check_output_file
    from accelsim.hw import simulate

    for option, path in (("-o", args.out), ("--trace", args.trace)):
        if path is not None:      # refused before the run, not after it
            check_output_file(path, f"{option} file")
    image, cfg, notice = _image_and_config(args)
    if data is not None:
        from accelsim.infer.outcome import image_classes
        from accelsim.nn.data import check_fits, evaluation_set
        check_fits(evaluation_set(data, args.samples), image.input_shape, image_classes(image), f"image {image.path}")
    from accelsim.energy import load_table
    from accelsim.energy.model import check_table
    check_table(load_table(), image)
    vdd = cfg.vdd_nominal if args.vdd is None else args.vdd
    from accelsim.schema.campaign import map_floor_refusal
    refusal = None if args.v_low is None else map_floor_refusal(args.v_low, vdd, "--v-low", "the supply")
    if refusal:
        raise UserError(f"{refusal}: the chip's map would miss every cell failing between them "
                        "(use a floor at or below --vdd)")
    import tempfile
    staging = tempfile.TemporaryDirectory(prefix="accelsim-simulate-")
    trace_tmp = f"{staging.name}/trace.json" if args.trace else None
    trace = dict(trace=trace_tmp, trace_folds=args.trace_folds)
    if args.ber is not None:        # transient flips at a given rate
        result = simulate(image, cfg, vdd=vdd, ber=args.ber, seed=args.seed, **trace)
        source = f"transient BER {result.faults['ber']:.2e}"
    elif args.fault_map is not None:   # a measured map
        fmap = ChipFaultMap.from_csv(args.fault_map, n_words=image.words.shape[0], width=image.layout.word_bits)
        result = simulate(image, cfg, vdd=vdd, fault_map=fmap, seed=args.seed, **trace)
        f = result.faults
        source = (f"measured map {args.fault_map}: {f['faulty_cells']:,} faulty cells at this voltage "
                  f"(rate {f['faulty_cells'] / f['bits']:.2e}), {f['wrong_bits']:,} stored bits read wrong")
    else:                           # the chip's persistent map at vdd
        chip, model = args.chip or 0, args.fault_model or "persistent"
        result = simulate(image, cfg, vdd=vdd, chip=chip, fault_model=model, curve=load_curve(args.curve),
                          v_low=args.v_low, seed=args.seed, **trace)
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
    name = args.image or args.topology
    t = Table(title=f"{name}: weight SRAM at {vdd:.3f} V, {source}, {cfg.rows}x{cfg.cols} "
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
    from accelsim.report.units import energy_unit
    unit, scale = energy_unit([report.total_pj])
    console.print(f"total {result.total_cycles:,} cycles ({result.total_cycles / cfg.clock_mhz:.1f} µs at "
                  f"{cfg.clock_mhz:g} MHz), energy {report.total_pj / scale:.4g} {unit} per inference, "
                  f"simulated in {result.wall_seconds:.2f} s", highlight=False)
    quality = {}
    if data is not None:
        quality = output_quality(image, data, args.samples, result.weights)
        acc = "no labels" if quality["accuracy"] is None else (
            f"accuracy {quality['accuracy']:.4f} (fault-free {quality['baseline_accuracy']:.4f})")
        console.print(f"{data.text}, {quality['inputs']} inputs at {vdd:.3f} V: {acc}; SDC top-1 "
                      f"{quality['sdc_top1'] * 100:.2f} %" + ("" if quality["sdc_top5"] is None else
                                                              f", top-5 {quality['sdc_top5'] * 100:.2f} %"))
    outputs = {}
    if args.out:
        outputs[args.out] = (json.dumps({"image": str(name), "ber": ber, "chip": result.faults.get("chip"),
                                                **result.to_dict(), "energy_per_layer": report.per_layer,
                                                **({"data": data.text, **quality} if data is not None else {})},
                                               indent=1))
    if args.trace:
        with open(trace_tmp, "rb") as f:
            outputs[args.trace] = f.read()
    staging.cleanup()
    if args.reports:
        from pathlib import Path

        from accelsim.hw.scalesim import report_texts
        texts = report_texts(result, image, report.per_layer, per_channel=args.topology is not None)
        for file_name, text in texts.items():
            outputs[Path(args.reports) / file_name] = text
    from accelsim.fileio import write_files
    write_files(outputs)   # every check has passed: all outputs or none
    if notice:   # once, on stderr, after the run: what of the SCALE-Sim config the model does not use
        import sys
        print(notice, file=sys.stderr)
    return 0


def _image_and_config(args):
    """The image (exported, or seeded weights of a SCALE-Sim topology) and the accelerator
    config (YAML, then a SCALE-Sim .cfg on top), all validated before anything is written."""
    from accelsim.ecc import get_layout
    from accelsim.errors import UserError
    from accelsim.fileio import read_yaml
    from accelsim.hw import parse_config
    from accelsim.hw.scalesim import apply_overrides, read_scalesim_config
    from accelsim.image import load_image

    if args.reports is not None:   # SCALE-Sim writes its reports into an existing run directory too
        from accelsim.fileio import check_output_dir
        check_output_dir(args.reports, "--reports directory", force=True)
    if args.image is not None:
        if args.layout is not None:   # an image's words are packed already: its layout is fixed
            raise UserError(f"--layout {args.layout} applies to --topology only; the image {args.image!r} "
                            "has its own layout (export it again with another --layout)")
        image = load_image(args.image)
    else:
        from accelsim.hw.topology import read_topology, topology_image
        layout = get_layout(args.layout or "ecc-8b-72")
        image = topology_image(read_topology(args.topology), layout, seed=args.seed, path=args.topology)
    where = f"accelerator config {args.config}" if args.config else "accelerator config"
    from accelsim.hw.config import is_preset
    if args.config and is_preset(args.config):   # a packaged preset by name (resident, streamed, ...)
        d = {"preset": args.config}
    else:
        d = read_yaml(args.config, "accelerator config") if args.config else {}
    if d is not None and not isinstance(d, dict):
        raise UserError(f"{where}: expected a YAML mapping")
    if args.scalesim_config:
        sc = read_scalesim_config(args.scalesim_config, image.layout.word_bits)
        d = apply_overrides(d or {}, sc)
        where += f" with SCALE-Sim config {args.scalesim_config}"
        return image, parse_config(d, where), sc.notice(args.scalesim_config)
    return image, parse_config(d or None, where), ""


def output_quality(image, data, samples, weights) -> dict:
    """Accuracy (None without labels) and top-1/top-5 SDC rates of ``weights`` (as read at
    the voltage) against the fault-free image, on ``data``."""
    import numpy as np

    from accelsim.infer.outcome import sdc_rates, top_classes
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
