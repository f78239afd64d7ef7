"""``accelsim simulate``: one cycle-level run of a memory image at a weight-SRAM voltage."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("simulate", help="run a memory image through the cycle-level accelerator")
    p.add_argument("--image", required=True, help="memory image directory (accelsim export)")
    p.add_argument("--vdd", type=float, default=None, help="weight-SRAM supply voltage in volts (default: nominal)")
    p.add_argument("--chip", type=int, default=0, help="simulated chip (its persistent fault map)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ber", type=float, default=None, help="transient bit error rate instead of the chip's map")
    p.add_argument("--fault-model", choices=("persistent", "stuck"), default="persistent")
    p.add_argument("--config", default=None, help="accelerator YAML (default: accelsim/configs/accelerator.yaml)")
    p.add_argument("--curve", default=None, help="BER(V) curve YAML (default: accelsim/configs/ber_curve.yaml)")
    p.add_argument("-o", "--out", default=None, help="write the per-layer results as JSON")
    p.add_argument("--trace", default=None, help="write a Chrome trace-event timeline (Perfetto)")
    p.set_defaults(func=cmd_simulate)


def cmd_simulate(args) -> int:
    from accelsim.console import get_console
    from rich.table import Table

    from accelsim.campaign.trial import faulty_words
    from accelsim.energy import energy_of
    from accelsim.faults import check_ber, load_curve
    from accelsim.fileio import atomic_write_text
    from accelsim.hw import load_config, simulate
    from accelsim.image import load_image

    image = load_image(args.image)
    cfg = load_config(args.config)
    curve = load_curve(args.curve)
    vdd = cfg.vdd_nominal if args.vdd is None else args.vdd
    ber = check_ber(args.ber) if args.ber is not None else curve.ber(vdd)
    params = {"fault_model": "transient" if args.ber is not None else args.fault_model, "ber": ber, "vdd": vdd,
              "chip": args.chip, "repeat": 0, "seed": args.seed, "v_low": vdd, "model": image.path.name,
              "scheme": image.layout.name, "layers": "all", "p_stuck1": 0.5,
              "curve": {k: getattr(curve, k) for k in ("v_ref", "ber_ref", "mv_per_decade", "v_min", "v_max")}}
    if curve.table:
        params["curve"]["table"] = [list(p) for p in curve.table]
    read = faulty_words(image, params, (0, image.words.shape[0]))
    result = simulate(image, cfg, read_words=read, transient_ber=ber if args.ber is not None else None,
                      seed=args.seed, vdd=vdd, trace_path=args.trace)
    report = energy_of(result, image.layout, vdd=vdd)
    result.energy_pj, result.energy = report.total_pj, report.summary()
    t = Table(title=f"{args.image} at {vdd:.3f} V (BER {ber:.2e}), chip {args.chip}, {cfg.rows}x{cfg.cols} "
                    f"{cfg.dataflow.upper()}, layout {image.layout.name}")
    cols = ("layer", "GEMM MxKxN", "cycles", "compute", "stall", "util", "SRAM words", "DRAM B",
            "corr", "det", "miscorr", "re-reads", "energy nJ")
    for c in cols:
        t.add_column(c, justify="right" if c != "layer" else "left")
    for s, e in zip(result.layers, report.per_layer):
        t.add_row(s.name, "x".join(map(str, s.gemm)), f"{s.cycles:,}", f"{s.compute_cycles:,}", f"{s.stall_cycles:,}",
                  f"{s.utilization:.2f}", f"{s.sram_read_words:,}", f"{s.dram_bytes:,}", str(s.corrected),
                  str(s.detected), str(s.miscorrected), str(s.rereads), f"{e['total'] / 1e3:.2f}")
    console = get_console()
    console.print(t)
    console.print(f"total {result.total_cycles:,} cycles ({result.total_cycles / cfg.clock_mhz:.1f} us at "
                  f"{cfg.clock_mhz:g} MHz), energy {report.total_pj / 1e3:.2f} nJ per inference, "
                  f"simulated in {result.wall_seconds:.2f} s")
    if args.out:
        atomic_write_text(args.out, json.dumps({"image": str(args.image), "ber": ber, "chip": args.chip,
                                                **result.to_dict(), "energy_per_layer": report.per_layer}, indent=1))
    return 0
