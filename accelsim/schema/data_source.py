"""A data source (``--data``, a config's ``data:``): the one validator of its text and its
transform, shared by ``accelsim schema`` and the loaders (accelsim.nn.data.parse_data adds
only what needs the file system: the path exists).

Text: ``digits`` (bundled), ``mnist:DIR``, ``cifar10:DIR``, ``imagefolder:DIR``,
``npz:FILE`` or ``synthetic:NxCxHxW``; as a mapping ``{source, resize, crop, mean, std}``.
"""

from __future__ import annotations

import math
import re

from pydantic import AfterValidator, Field, TypeAdapter, model_validator
from pydantic_core import PydanticCustomError
from typing_extensions import Annotated

from accelsim.schema.base import ConfigModel, FiniteFloat

KINDS = ("digits", "fashion-mnist", "mnist", "cifar10", "imagefolder", "npz", "synthetic")
# data sets found by name where their Debian package installs them (accelsim.nn.data.NAMED)
NAMED_KINDS = ("fashion-mnist",)
IMAGE_MAX_SIDE = 1 << 14       # resize / crop, pixels per side
SYNTHETIC_MAX_VALUES = 1 << 27   # 512 MiB of float32: a bigger synthetic set is a typo, not a study
TRANSFORM_FIELDS = ("resize", "crop", "mean", "std")
# shown by `accelsim schema run|campaign` (tests/test_schema.py feeds them to the loader too)
DATA_EXAMPLES = ["digits", "mnist:data/mnist", "cifar10:data/cifar-10-batches-bin", "npz:inputs.npz",
                 "synthetic:64x3x224x224",
                 {"source": "imagefolder:data/val", "resize": 256, "crop": 224, "mean": [0.485, 0.456, 0.406],
                  "std": [0.229, 0.224, 0.225]}]
_KNOWN = "digits, fashion-mnist, mnist:DIR, cifar10:DIR, imagefolder:DIR, npz:FILE, synthetic:NxCxHxW"


def synthetic_shape(text: str) -> tuple[int, int, int, int]:
    """(N, C, H, W) of ``synthetic:NxCxHxW``'s part after the colon."""
    parts = text.split("x")
    if len(parts) != 4 or not all(re.fullmatch(r"[1-9]\d*", p) for p in parts):
        raise PydanticCustomError("data", "synthetic needs NxCxHxW, e.g. synthetic:64x3x224x224 (got {v})",
                                  {"v": repr(text)[:60]})
    shape = tuple(int(p) for p in parts)
    values = math.prod(shape)   # Python ints: np.prod wraps at 2**63 and would pass the check
    if values > SYNTHETIC_MAX_VALUES:
        shown = f"{values:,}" if values < 10**30 else f"about 10^{len(str(values)) - 1}"
        raise PydanticCustomError("data", "synthetic: {n} values is more than {m}",
                                  {"n": shown, "m": f"{SYNTHETIC_MAX_VALUES:,}"})
    return shape


def source_parts(text: str) -> tuple[str, str]:
    """(kind, path text) of a valid source text ('' for digits)."""
    if not isinstance(text, str) or not text.strip() or "\x00" in text:
        raise PydanticCustomError("data", "expected a source such as " + _KNOWN + " (got {v})", {"v": repr(text)[:60]})
    kind, sep, path = text.strip().partition(":")
    if kind not in KINDS:
        raise PydanticCustomError("data", "unknown source {k} (known: " + _KNOWN + ")", {"k": repr(kind)[:60]})
    if (kind == "digits" or kind in NAMED_KINDS) and sep:
        raise PydanticCustomError("data", "{k} is {what} and takes no path (got {v})",
                                  {"k": kind, "what": "bundled" if kind == "digits" else "a named data set",
                                   "v": repr(text)[:60]})
    if kind == "synthetic":
        synthetic_shape(path)
    elif kind != "digits" and kind not in NAMED_KINDS and not path:
        raise PydanticCustomError("data", "{k} needs a path ({k}:{p})", {"k": kind, "p": "FILE" if kind == "npz" else "DIR"})
    return kind, path


def _check_text(text: str) -> str:
    source_parts(text)
    return text


SourceText = Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(_check_text)]
def _side(v: int) -> int:
    if v > IMAGE_MAX_SIDE:
        raise PydanticCustomError("data", "{v} is more than {m} pixels per side", {"v": v, "m": IMAGE_MAX_SIDE})
    return v


Side = Annotated[int, Field(ge=1), AfterValidator(_side)]
Pixels = Side | Annotated[list[Side], Field(min_length=1, max_length=2)]


def validate_source_text(value, where: str) -> str:
    """``value`` validated as a source text, or one UserError line naming ``where``."""
    from pydantic import ValidationError

    from accelsim.schema.base import user_error
    try:
        return _TEXT.validate_python(value)
    except ValidationError as exc:
        raise user_error(exc, where, value) from None


class DataSource(ConfigModel):
    """A data source with the imagefolder transform (docs/models.md, Data)."""

    source: SourceText = Field(description="digits, mnist:DIR, cifar10:DIR, imagefolder:DIR, npz:FILE or "
                                           "synthetic:NxCxHxW")
    resize: Pixels | None = Field(None, description="imagefolder: shorter side in pixels, or [height, width]")
    crop: Pixels | None = Field(None, description="imagefolder: center crop, pixels or [height, width]")
    mean: Annotated[list[FiniteFloat], Field(min_length=1, max_length=64)] | None = Field(
        None, description="per-channel mean subtracted after scaling pixels to [0, 1]")
    std: Annotated[list[Annotated[float, Field(gt=0)]], Field(min_length=1, max_length=64)] | None = Field(
        None, description="per-channel standard deviation divided by")

    @model_validator(mode="after")
    def _transform(self):
        kind = self.source.strip().partition(":")[0]
        if (self.resize is not None or self.crop is not None) and kind != "imagefolder":
            raise PydanticCustomError("data", "resize/crop apply to imagefolder sources only, not {k}", {"k": kind})
        if (self.mean is None) != (self.std is None):
            raise PydanticCustomError("data", "give both mean and std (or neither)")
        if self.mean is not None and len(self.mean) != len(self.std):
            raise PydanticCustomError("data", "mean has {m} values but std has {s}",
                                      {"m": len(self.mean), "s": len(self.std)})
        return self


_TEXT = TypeAdapter(SourceText)
