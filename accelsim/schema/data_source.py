"""A data source (``--data``, a config's ``data:``): the one validator of its text, its
transform and its path (:func:`parse_data`: the file or folder exists, a named data set is
installed), shared by ``accelsim schema``, the CLI and the loaders in accelsim.nn.data. It
needs neither torch nor numpy, so a bad data spec is refused before the heavy stack loads.

Text: ``digits`` (bundled), ``mnist:DIR``, ``cifar10:DIR``, ``imagefolder:DIR``,
``npz:FILE`` or ``synthetic:NxCxHxW``; as a mapping ``{source, resize, crop, mean, std}``.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import AfterValidator, Field, TypeAdapter, model_validator
from pydantic_core import PydanticCustomError
from typing_extensions import Annotated

from accelsim.errors import UserError
from accelsim.schema.base import ConfigModel, FiniteFloat, validate

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
# Named data sets: a source without a path, found where its Debian package installs it (or
# under $ACCELSIM_DATA, a folder laid out like /usr/share/datasets) -> (folder, package).
NAMED = {"fashion-mnist": ("fashion-mnist", "dataset-fashion-mnist")}
DEBIAN_DATASETS = Path("/usr/share/datasets")
DATA_ENV = "ACCELSIM_DATA"
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


@dataclass(frozen=True)
class DataSpec:
    """A parsed data source: ``kind``, an absolute ``path`` (None for digits) and the
    imagefolder transform (``resize``: shorter side in pixels or (H, W); ``crop``: (H, W)
    center crop; ``mean``/``std``: per-channel normalisation, applied to any source)."""

    kind: str = "digits"
    path: str | None = None
    resize: tuple[int, ...] | None = None
    crop: tuple[int, int] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    @property
    def text(self) -> str:
        return self.kind if self.path is None else f"{self.kind}:{self.path}"

    @property
    def is_file_source(self) -> bool:
        return self.kind not in ("digits", "synthetic")

    @property
    def root(self) -> str:
        """The folder or file read: ``path``, or where a named data set is installed."""
        return named_root(self.kind) if self.kind in NAMED else self.path

    @property
    def is_default(self) -> bool:
        return self == DataSpec()

    def to_dict(self) -> dict:
        """JSON-able; part of a trial's key when the source is not the default digits."""
        out: dict = {"source": self.text}
        for name in TRANSFORM_FIELDS:
            if getattr(self, name) is not None:
                out[name] = list(getattr(self, name))
        return out


def named_candidates(kind: str) -> list[Path]:
    """Where a named data set is looked for, in order: $ACCELSIM_DATA/<name>, then Debian's."""
    folder = NAMED[kind][0]
    env = os.environ.get(DATA_ENV)
    return ([Path(env).expanduser() / folder] if env else []) + [DEBIAN_DATASETS / folder]


def named_root(kind: str) -> str:
    """The folder holding the named data set ``kind``; one line with the install command
    where it is absent."""
    for candidate in named_candidates(kind):
        if candidate.is_dir():
            return str(candidate.resolve())
    looked = " or ".join(str(c) for c in named_candidates(kind))
    raise UserError(f"data set {kind} is not installed (looked in {looked}); install it with: "
                    f"sudo apt-get install {NAMED[kind][1]} (or set {DATA_ENV} to a folder holding {NAMED[kind][0]}/)")


def named_available(kind: str) -> bool:
    """Whether the named data set ``kind`` is installed where :func:`named_root` looks."""
    return any(c.is_dir() for c in named_candidates(kind))


def parse_data(value=None, base_dir: str | Path = ".", where: str = "data") -> DataSpec:
    """A data spec from a string (``kind[:PATH]``), a mapping ``{source, resize, crop,
    mean, std}`` or a validated :class:`accelsim.schema.data_source.DataSource` (the one
    validator of both forms, shared with ``accelsim schema``); relative paths resolve
    against ``base_dir`` (a config file's folder). Adds the checks the schema cannot make:
    the path exists, a named data set is installed. The files themselves are read by
    :func:`accelsim.nn.data.load_data`."""
    if value is None:
        return DataSpec()
    if isinstance(value, dict):
        value = validate(DataSource, value, where)
    elif not isinstance(value, DataSource):
        value = DataSource.model_construct(source=validate_source_text(value, where))
    kind, path = source_parts(value.source)
    where = f"{where} = {value.source!r}"
    if kind == "digits" or kind in NAMED:
        if kind in NAMED:
            try:
                named_root(kind)
            except UserError as exc:
                raise UserError(f"{where}: {exc}") from None
        resolved = None
    elif kind == "synthetic":
        resolved = "x".join(str(v) for v in synthetic_shape(path))
    else:
        p = Path(path).expanduser()
        p = p if p.is_absolute() else Path(base_dir) / p
        if kind == "npz" and not p.is_file():
            raise UserError(f"{where}: file {str(p)!r} does not exist")
        if kind != "npz" and not p.is_dir():
            raise UserError(f"{where}: directory {str(p)!r} does not exist")
        resolved = str(p.resolve())

    def pixels(v, square: bool):   # an int or [n] is the shorter side (resize) or a square (crop)
        v = None if v is None else (v,) if isinstance(v, int) else tuple(v)
        return v * 2 if square and v is not None and len(v) == 1 else v

    return DataSpec(kind=kind, path=resolved, resize=pixels(value.resize, False), crop=pixels(value.crop, True),
                    mean=None if value.mean is None else tuple(value.mean),
                    std=None if value.std is None else tuple(value.std))


def data_from_args(args) -> DataSpec:
    """The DataSpec of ``--data`` and its transform options (relative to the working directory)."""
    def numbers(text, name):
        try:
            return [float(v) for v in text.split(",")]
        except ValueError:
            raise UserError(f"--{name} {text!r}: expected comma-separated numbers") from None

    options = {"resize": args.resize, "crop": args.crop,
               "mean": numbers(args.mean, "mean") if args.mean else None,
               "std": numbers(args.std, "std") if args.std else None}
    options = {k: v for k, v in options.items() if v is not None}
    if args.data is not None and not args.data.strip():
        raise UserError(f"--data {args.data!r}: empty; name a source (digits, mnist:DIR, cifar10:DIR, "
                        "imagefolder:DIR, npz:FILE or synthetic:NxCxHxW) or leave --data out")
    if args.data is None and not options:
        return DataSpec()
    return parse_data({"source": args.data or "digits", **options}, ".", "--data")
