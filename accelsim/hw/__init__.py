"""Cycle-level SimPy model of the accelerator: DRAM, weight SRAM (own voltage domain),
ECC decoder stage, systolic PE array, controller."""

from accelsim.lazy import lazy_exports


def simulate_trial(image, read_words, params):
    """The cycle-level engine of a campaign trial (accelsim.campaign.trial)."""
    from accelsim.hw.run import simulate_trial as _run
    return _run(image, read_words, params)


__all__ = ["AcceleratorConfig", "LayerStats", "SimResult", "load_config", "parse_config", "plan", "simulate",
           "simulate_trial"]
# SimPy loads on first use (accelsim.lazy): the CLI answers --help without it
__getattr__ = lazy_exports(__name__, {
    "LayerStats": "accelsim.hw.accelerator", "SimResult": "accelsim.hw.accelerator", "simulate": "accelsim.hw.accelerator",
    "AcceleratorConfig": "accelsim.hw.config", "load_config": "accelsim.hw.config", "parse_config": "accelsim.hw.config",
    "plan": "accelsim.hw.pe_array"})
