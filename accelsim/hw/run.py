"""Glue between campaigns and the cycle-level model."""

from __future__ import annotations

from accelsim.hw.accelerator import SimResult, simulate
from accelsim.hw.config import AcceleratorConfig
from accelsim.seeds import derive


def simulate_trial(image, read_words, params, config: AcceleratorConfig, table) -> SimResult:
    """The cycle-level engine of a campaign trial: ``params`` a
    :class:`accelsim.campaign.params.TrialParams`, ``config`` and ``table`` (an
    :class:`accelsim.energy.EnergyTable`) as the campaign read them; the result carries
    the energy in pJ per inference."""
    if params.policy in ("pass", "zero"):
        config = config.with_policy(params.policy)
    transient = params.ber if params.fault_model == "transient" else None
    seed = derive(params.seed, "cycle", params.model, params.scheme, params.vdd, params.chip, params.repeat)
    result = simulate(image, config, read_words=read_words, transient_ber=transient, seed=seed, vdd=params.vdd)
    from accelsim.energy import energy_of
    report = energy_of(result, image.layout, vdd=params.vdd, table=table)
    result.energy_pj = report.total_pj
    result.energy = report.summary()
    return result
