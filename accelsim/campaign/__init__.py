"""Monte Carlo fault campaigns: specs, the SQLite store, trials, runners and analyses.

Attributes load on first use (accelsim.lazy): the CLI answers --help without torch."""

from accelsim.lazy import lazy_exports

__all__ = ["Spec", "Store", "load_spec", "parse_spec", "run_campaign", "trial_key"]
__getattr__ = lazy_exports(__name__, {
    "run_campaign": "accelsim.campaign.runner", "Spec": "accelsim.campaign.spec",
    "load_spec": "accelsim.campaign.spec", "parse_spec": "accelsim.campaign.spec",
    "trial_key": "accelsim.campaign.spec", "Store": "accelsim.campaign.store"})
