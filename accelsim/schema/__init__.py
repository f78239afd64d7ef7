"""One typed, frozen pydantic model per config kind: the single source of validation,
defaults, the JSON Schema (``accelsim schema KIND``) and docs/config-reference.md.

Every loader reads its file with :func:`accelsim.fileio.read_yaml` and validates it with
:func:`validate`, which turns the first problem into one :class:`~accelsim.errors.UserError`
line naming the file and the field path, e.g. ``campaign spec sweep.yaml: chips: must be
>= 1 (got 0)``.
"""

from accelsim.schema.accelerator import AcceleratorFile
from accelsim.schema.base import ConfigModel, nearest, validate
from accelsim.schema.ber_curve import BerCurveFile
from accelsim.schema.campaign import MAX_TRIALS, CampaignSpec, RunConfig
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

__all__ = ["KINDS", "MAX_TRIALS", "AcceleratorFile", "BerCurveFile", "CampaignSpec", "ConfigModel",
           "EnergyTableFile", "Manifest", "ModelCard", "RunConfig", "nearest", "validate"]
