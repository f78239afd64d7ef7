"""Glue between campaigns and the cycle-level model."""

from __future__ import annotations

from dataclasses import replace

from accelsim.hw.accelerator import SimResult, simulate
from accelsim.hw.config import load_config
from accelsim.seeds import derive


def simulate_trial(image, read_words, params: dict) -> SimResult:
    cfg = load_config(params.get("accelerator"))
    if params.get("policy") in ("pass", "zero"):
        cfg = replace(cfg, policy=params["policy"])
    transient = params["ber"] if params["fault_model"] == "transient" else None
    seed = derive(params["seed"], "cycle", params["model"], params["scheme"], params["vdd"], params["chip"],
                  params["repeat"])
    result = simulate(image, cfg, read_words=read_words, transient_ber=transient, seed=seed, vdd=params["vdd"])
    from accelsim.energy import energy_of, load_table
    report = energy_of(result, image.layout, vdd=params["vdd"], table=load_table(params.get("energy_table")))
    result.energy_pj = report.total_pj
    result.energy = report.summary()
    return result
