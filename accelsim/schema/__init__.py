"""One typed, frozen pydantic model per config kind: the single source of validation,
defaults, the JSON Schema (``accelsim schema KIND``) and docs/config-reference.md.

Every loader reads its file with :func:`accelsim.fileio.read_yaml` and validates it with
:func:`validate`, which turns the first problem into one :class:`~accelsim.errors.UserError`
line naming the file and the field path, e.g. ``campaign spec sweep.yaml: chips: must be
>= 1 (got 0)``.

Attributes load on first use (accelsim.lazy): the CLI's --help and argument errors answer
without pydantic.
"""

from accelsim.lazy import lazy_exports

# the kinds of ``accelsim schema KIND`` (accelsim.schema.kinds.KINDS maps them to their models)
KIND_NAMES = ("run", "campaign", "accelerator", "energy", "ber-curve", "manifest", "model-card")

_FROM = {
    "accelsim.schema.kinds": ("KINDS",),
    "accelsim.schema.accelerator": ("AcceleratorFile",),
    "accelsim.schema.base": ("ConfigModel", "nearest", "validate"),
    "accelsim.schema.ber_curve": ("BerCurveFile",),
    "accelsim.schema.campaign": ("MAX_TRIALS", "CampaignSpec", "RunConfig"),
    "accelsim.schema.energy": ("EnergyTableFile",),
    "accelsim.schema.manifest": ("Manifest",),
    "accelsim.schema.model_card": ("ModelCard",),
}
__all__ = ["KIND_NAMES", *sorted(name for names in _FROM.values() for name in names)]
__getattr__ = lazy_exports(__name__, {name: module for module, names in _FROM.items() for name in names})
