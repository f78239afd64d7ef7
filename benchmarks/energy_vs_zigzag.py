"""accelsim's energy per layer beside ZigZag's (PyPI zigzag-dse, KU Leuven's analytical
accelerator model) on the same network and the same architecture: the accelerator preset
(default ``resident``) written as a ZigZag hardware file with accelsim's array, weight-SRAM
banks, buffer and accumulator capacities and accelsim's per-action costs (energy.yaml), the
network's conv/linear layers written as a ZigZag workload from the memory image's manifest.
Per layer, operand (W, I, O) and memory level: both energies and their ratio. One JSON line.

    python benchmarks/energy_vs_zigzag.py [--model resnet18] [--preset resident] [--lpf 6]

ZigZag runs from its own venv (benchmarks/zigzag_env.py installs it when missing); it is not
part of `make test`. docs/energy.md explains the differences larger than 1.25x.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

from accelsim.energy import energy_of, load_table
from accelsim.energy.model import PSUM_BYTES
from accelsim.hw import load_config, simulate
from accelsim.image import export_image
from accelsim.nn import build_model
from zigzag_env import run_in_zigzag

FF_PJ_BIT = None   # filled from the table

ZIGZAG = r'''
import json, logging, sys
logging.disable(logging.CRITICAL)
from zigzag.api import get_hardware_performance_zigzag
spec = json.load(open(sys.argv[1]))
energy, latency, cmes = get_hardware_performance_zigzag(
    workload=spec["workload"], accelerator=spec["hardware"], mapping=spec["mapping"], opt="energy",
    dump_folder=spec["dump"], pickle_filename=spec["dump"] + "/cmes.pickle", lpf_limit=spec["lpf"],
    loma_show_progress_bar=False)
out = []
for cme, _ in cmes[0][1]:
    levels = {}
    for op, per_level in cme.mem_energy_breakdown_further.items():
        mem_op = cme.memory_operand_links.layer_to_mem_op(op)
        names = [m.name for m in cme.accelerator.memory_hierarchy.get_memory_levels(mem_op=mem_op)]
        for name, e in zip(names, per_level):
            d = {str(k).split(".")[-1]: float(v) for k, v in e.data.items()} if hasattr(e, "data") else {}
            levels[f"{str(op)}@{name}"] = {"total": float(sum(d.values())) if d else 0.0, **d}
    out.append({"layer": str(cme.layer.name), "mac": float(cme.mac_energy), "levels": levels,
                "total": float(cme.energy_total)})
print(json.dumps(out))
'''


def _conv_entry(i: int, layer, ff_bits) -> dict:
    """One conv/linear layer of the manifest as a ZigZag workload layer (8-bit W and I,
    32-bit partial sums, 8-bit final outputs; batch 1; no operand source: ZigZag loads each
    layer's input from the top level, see docs/energy.md)."""
    m, k, n = layer.gemm
    groups = int(getattr(layer, "groups", 1) or 1)
    prec = {"W": 8, "I": 8, "O": PSUM_BYTES * 8, "O_final": 8}
    if layer.kind == "linear":
        return {"id": i, "name": layer.name, "operator_type": "Gemm",
                "equation": "O[b][k]+=W[k][c]*I[b][c]", "loop_dims": ["B", "K", "C"],
                "loop_sizes": [1, n, k], "operand_precision": prec}
    fy, fx = layer.kernel
    sy, sx = layer.stride
    dy, dx = getattr(layer, "dilation", None) or (1, 1)
    oy, ox = layer.output_hw
    iy, ix = layer.input_hw
    py, px = layer.padding
    return {"id": i, "name": layer.name, "operator_type": "Conv",
            "equation": "O[b][g][k][oy][ox]+=W[g][k][c][fy][fx]*I[b][g][c][iy][ix]",
            "dimension_relations": [f"ix={sx}*ox+{dx}*fx", f"iy={sy}*oy+{dy}*fy"],
            "loop_dims": ["B", "K", "G", "OX", "OY", "C", "FX", "FY"],
            "loop_sizes": [1, n // groups, groups, ox, oy, layer.in_channels // groups, fx, fy],
            "operand_precision": prec, "pr_loop_dims": ["IX", "IY"], "pr_loop_sizes": [ix, iy],
            "padding": [[px, px], [py, py]]}


def _port(name, kind, bw_min, bw_max, alloc):
    return {"name": name, "type": kind, "bandwidth_min": bw_min, "bandwidth_max": bw_max, "allocation": alloc}


def _memory(size_bits, r, w, operands, ports, served):
    return {"size": int(size_bits), "r_cost": float(r), "w_cost": float(w), "area": 0, "latency": 1,
            "operands": operands, "ports": ports, "served_dimensions": served}


def hardware(cfg, table, word_bits: int) -> dict:
    """The accelerator as a ZigZag hardware description, with accelsim's per-action costs.
    D1: the array's columns (output channels), D2: its rows (the reduction)."""
    ff = table.register_pj_per_bit
    bank_kib = cfg.words_per_bank * word_bits / 8 / 1024
    mems = {
        # the PE's flip-flops: the weight held, the activation and the partial sum passed on
        "reg_W": _memory(8, 0, 8 * ff, ["I2"], [_port("r_port_1", "read", 8, 8, ["I2, tl"]),
                                                 _port("w_port_1", "write", 8, 8, ["I2, fh"])], []),
        "reg_I": _memory(8, 0, 8 * ff, ["I1"], [_port("r_port_1", "read", 8, 8, ["I1, tl"]),
                                                 _port("w_port_1", "write", 8, 8, ["I1, fh"])], []),
        "reg_O": _memory(32, 0, 32 * ff, ["O"], [_port("r_port_1", "read", 32, 32, ["O, tl", "O, th"]),
                                                  _port("w_port_1", "write", 32, 32, ["O, fh", "O, fl"])], []),
    }
    if cfg.accumulator_depth:   # one bank per column, serving the column's rows
        kib = cfg.accumulator_depth * PSUM_BYTES / 1024
        mems["accumulators"] = _memory(cfg.accumulator_depth * 32, table.sram_read_pj(kib) / 2,
                                       table.sram_write_pj(kib) / 2, ["O"],
                                       [_port("r_port_1", "read", 32, 32, ["O, tl", "O, th"]),
                                        _port("w_port_1", "write", 32, 32, ["O, fh", "O, fl"])], ["D2"])
    # one access = the port's full width (bandwidth_min = bandwidth_max), priced at accelsim's
    # per-64-bit cost x width / 64
    wide = word_bits * cfg.ecc_lanes
    w_read = table.sram_read_pj(bank_kib) * word_bits / 64 * cfg.ecc_lanes
    mems["weight_sram"] = _memory(cfg.sram_words * word_bits, w_read, w_read, ["I2"],
                                  [_port("r_port_1", "read", wide, wide, ["I2, tl"]),
                                   _port("w_port_1", "write", wide, wide, ["I2, fh"])], ["D1", "D2"])
    mems["input_buffer"] = _memory(cfg.input_kib * 8192, table.sram_read_pj(cfg.input_kib),
                                   table.sram_write_pj(cfg.input_kib), ["I1"],
                                   [_port("r_port_1", "read", 64, 64, ["I1, tl"]),
                                    _port("w_port_1", "write", 64, 64, ["I1, fh"])], ["D1", "D2"])
    mems["output_buffer"] = _memory(cfg.output_kib * 8192, table.sram_read_pj(cfg.output_kib),
                                    table.sram_write_pj(cfg.output_kib), ["O"],
                                    [_port("r_port_1", "read", 64, 64, ["O, tl", "O, th"]),
                                     _port("w_port_1", "write", 64, 64, ["O, fh", "O, fl"])], ["D1", "D2"])
    mems["dram"] = _memory(10**12, 8 * table.dram_pj_per_byte, 8 * table.dram_pj_per_byte, ["I1", "I2", "O"],
                           [_port("rw_port_1", "read_write", 64, 64,
                                  ["I1, fh", "I1, tl", "I2, fh", "I2, tl", "O, fh", "O, tl", "O, fl", "O, th"])],
                           ["D1", "D2"])
    return {"name": f"accelsim_{cfg.preset or 'custom'}", "memories": mems,
            "operational_array": {"unit_energy": table.mac(8, 8), "unit_area": 1, "dimensions": ["D1", "D2"],
                                  "sizes": [cfg.cols, cfg.rows]}}


def mapping(cfg) -> list[dict]:
    links = {"O": "O", "W": "I2", "I": "I1"}
    return [{"name": "default", "spatial_mapping": {"D1": [f"K, {cfg.cols}"], "D2": [f"C, {cfg.rows}"]},
             "memory_operand_links": links},
            {"name": "Gemm", "spatial_mapping": {"D1": [f"K, {cfg.cols}"], "D2": [f"C, {cfg.rows}"]},
             "memory_operand_links": links}]


def accelsim_side(image, cfg, table) -> list[dict]:
    """accelsim's per-layer energies split like ZigZag's operands and levels (pJ)."""
    res = simulate(image, cfg)
    rep = energy_of(res, image.layout, vdd=None, table=table)
    u = rep.units
    out = []
    for s, e in zip(res.layers, rep.per_layer):
        out.append({"layer": s.name, "mac": e["mac"], "levels": {
            "W@weight_sram": e["sram_dynamic"],
            "I@input_buffer": s.input_reads * u.input_read_per_byte,
            "I@reg_I": s.macs * 8 * table.register_pj_per_bit,
            "O@reg_O": s.macs * 32 * table.register_pj_per_bit,
            "O@accumulators": e["accumulators"],
            "O@output_buffer": e["buffers"] - s.input_reads * u.input_read_per_byte,
            "dram": e["dram"]}, "weight_sram_leakage": e["sram_leakage"], "total": e["total"]})
    return out


def compare(ours: list[dict], theirs: list[dict]) -> list[dict]:
    rows = []
    for a, b in zip(ours, theirs):
        z = b["levels"]
        zz = {"mac": b["mac"],
              "W@weight_sram": z.get("W@weight_sram", {}).get("rd_out_to_low", 0.0),
              "W@reg_W": z.get("W@reg_W", {}).get("total", 0.0),
              "I@input_buffer": z.get("I@input_buffer", {}).get("rd_out_to_low", 0.0),
              "I@reg_I": z.get("I@reg_I", {}).get("total", 0.0),
              "O@reg_O": z.get("O@reg_O", {}).get("total", 0.0),
              "O@accumulators": z.get("O@accumulators", {}).get("total", 0.0),
              "O@output_buffer": z.get("O@output_buffer", {}).get("total", 0.0),
              "dram": sum(v.get("total", 0.0) for k, v in z.items() if k.endswith("@dram"))}
        mine = {"mac": a["mac"], **a["levels"], "W@reg_W": 0.0}
        ratio = {k: (mine[k] / zz[k] if zz[k] else None) for k in zz}
        rows.append({"layer": a["layer"], "zigzag_layer": b["layer"], "accelsim_pj": mine, "zigzag_pj": zz,
                     "ratio": ratio, "zigzag_total_pj": b["total"], "accelsim_total_pj": a["total"]})
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--preset", default="resident")
    ap.add_argument("--layout", default="none-8b")
    ap.add_argument("--lpf", type=int, default=6, help="ZigZag LOMA loop-prime-factor limit")
    ap.add_argument("--layers", type=int, default=0, help="only the first N conv/linear layers (0: all)")
    args = ap.parse_args(argv)
    table = load_table()
    model = build_model(args.model, seed=0)
    calib = torch.rand(4, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with tempfile.TemporaryDirectory() as tmp:
        image = export_image(model, Path(tmp) / "img", layout=args.layout, input_shape=(3, 224, 224),
                             calibration=calib, project=args.layout.startswith("inplace"))
        cfg = load_config(args.preset).for_layout(image.layout.word_bits, n_words=int(image.words.shape[0]))
        ours = accelsim_side(image, cfg, table)
        layers = image.layers[:args.layers] if args.layers else image.layers
        spec = {"workload": [_conv_entry(i, layer, None) for i, layer in enumerate(layers)],
                "hardware": str(Path(tmp) / "hw.yaml"), "mapping": str(Path(tmp) / "map.yaml"),
                "dump": str(Path(tmp) / "zz"), "lpf": args.lpf}
        import yaml
        Path(spec["hardware"]).write_text(yaml.safe_dump(hardware(cfg, table, image.layout.word_bits), sort_keys=False))
        Path(spec["mapping"]).write_text(yaml.safe_dump(mapping(cfg), sort_keys=False))
        wl = Path(tmp) / "workload.yaml"
        wl.write_text(yaml.safe_dump(spec["workload"], sort_keys=False))
        spec["workload"] = str(wl)
        (Path(tmp) / "spec.json").write_text(json.dumps(spec))
        theirs = json.loads(run_in_zigzag(ZIGZAG, str(Path(tmp) / "spec.json")))
    rows = compare(ours[:len(theirs)], theirs)
    within = [r for r in rows if all(v is None or 0.8 <= v <= 1.25 for k, v in r["ratio"].items()
                                     if k in ("mac", "W@weight_sram", "I@input_buffer", "O@accumulators"))]
    print(json.dumps({"benchmark": "energy_vs_zigzag", "model": args.model, "preset": args.preset,
                      "layout": args.layout, "layers": rows, "layers_within_1.25x_on_mac_w_i_acc": len(within),
                      "n_layers": len(rows)}))


if __name__ == "__main__":
    sys.exit(main())
