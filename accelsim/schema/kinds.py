"""The config kinds of ``accelsim schema KIND`` and docs/config-reference.md, by name."""

from accelsim.schema import KIND_NAMES
from accelsim.schema.accelerator import AcceleratorFile
from accelsim.schema.ber_curve import BerCurveFile
from accelsim.schema.campaign import CampaignSpec, RunConfig
from accelsim.schema.energy import EnergyTableFile
from accelsim.schema.manifest import Manifest
from accelsim.schema.model_card import ModelCard

KINDS = {
    "run": RunConfig,
    "campaign": CampaignSpec,
    "accelerator": AcceleratorFile,
    "energy": EnergyTableFile,
    "ber-curve": BerCurveFile,
    "manifest": Manifest,
    "model-card": ModelCard,
}
# the CLI offers KIND_NAMES before pydantic is loaded: the two lists are one
assert tuple(KINDS) == KIND_NAMES, "accelsim.schema.KIND_NAMES differs from accelsim.schema.kinds.KINDS"
