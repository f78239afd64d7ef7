"""Monte Carlo fault campaigns: specs, the SQLite store, trials, runners and analyses."""

from accelsim.campaign.runner import run_campaign
from accelsim.campaign.spec import Spec, load_spec, parse_spec, trial_key
from accelsim.campaign.store import Store

__all__ = ["Spec", "Store", "load_spec", "parse_spec", "run_campaign", "trial_key"]
