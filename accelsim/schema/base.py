"""The base of every config model, and pydantic errors turned into one user line.

Every model is strict (no silent ``"3" -> 3``; ``true`` is not an integer), refuses
NaN and infinity, refuses unknown keys with the nearest valid name, and is frozen: a
validated config is a value, not a dict that each stage re-reads.
"""

from __future__ import annotations

import difflib
import math
import re
from typing import Annotated, Any

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator)
from pydantic_core import PydanticCustomError

from accelsim.errors import UserError

SEED_MAX = 2**63 - 1


class ConfigModel(BaseModel):
    """Strict, frozen, no unknown keys (with a "did you mean" hint), finite floats."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid", allow_inf_nan=False,
                              validate_default=False, hide_input_in_errors=False)

    @model_validator(mode="before")
    @classmethod
    def _keys_are_known(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        fields = {f.alias or name for name, f in cls.model_fields.items()}
        for key in data:
            if not isinstance(key, str):
                raise PydanticCustomError("key_type", "key {key} is not a string (a field name is expected)",
                                          {"key": repr(key)})
            if key not in fields:
                near = nearest(key, fields)
                hint = f" (did you mean {near!r}?)" if near else f" (known: {', '.join(sorted(fields))})"
                raise PydanticCustomError("unknown_field", "unknown field {key}{hint}",
                                          {"key": repr(key), "hint": hint})
        return data


def nearest(name: str, choices) -> str | None:
    """The closest valid name to ``name`` (case-insensitive), or None."""
    choices = list(choices)
    lower = {c.lower(): c for c in choices}
    if name.lower() in lower:
        return lower[name.lower()]
    within = [c for c in lower if len(name) >= 3 and name.lower() in c]
    if len(within) == 1:                    # 'sram' -> 'weight_sram'
        return lower[within[0]]
    hit = difflib.get_close_matches(name.lower(), list(lower), n=1, cutoff=0.6)
    return lower[hit[0]] if hit else None


def _finite(v: float) -> float:
    if not math.isfinite(v):
        raise ValueError("must be a finite number")
    return v


# reusable field types ------------------------------------------------------------------
FiniteFloat = Annotated[float, AfterValidator(_finite)]
PositiveFloat = Annotated[float, Field(gt=0), AfterValidator(_finite)]
NonNegFloat = Annotated[float, Field(ge=0), AfterValidator(_finite)]
Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]
Count = Annotated[int, Field(ge=1)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


def _file_name_part(v: str) -> str:
    # a model's label names its image-cache folder (<store>.images/<label>-<scheme>-<key>):
    # a separator, '..' or a control character would write outside the cache or fail there
    if v in (".", "..") or v.startswith(".") or re.search(r"[/\\\x00-\x1f\x7f]", v):
        raise PydanticCustomError("label", "model label is not usable in a file name (no '/', '\\', "
                                  "leading '.', '..' or control characters)")
    return v


Label = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_file_name_part)]
Probability = Annotated[float, Field(ge=0, le=1)]


# errors --------------------------------------------------------------------------------
_MESSAGES = {
    "missing": "missing (required)",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "finite_number": "must be a finite number",
    "none_required": "must be null",
}


_BUILTIN = set(_MESSAGES) | {"greater_than_equal", "greater_than", "less_than_equal", "less_than", "literal_error",
                             "too_short", "too_long", "string_too_short", "string_too_long", "value_error",
                             "string_pattern_mismatch"}


def _loc(loc: tuple, data: Any, missing: bool) -> str:
    """``layers['conv1'].bias[3]``: list items that are mappings with a name are named;
    the branch names pydantic adds for a union are left out."""
    out, node = "", data
    for i, part in enumerate(loc):
        if isinstance(part, int) and isinstance(node, list):
            item = node[part] if 0 <= part < len(node) else None
            name = item.get("name") if isinstance(item, dict) else None
            out += f"[{name!r}]" if isinstance(name, str) else f"[{part}]"
            node = item
        elif isinstance(part, int) and isinstance(node, dict) and part in node:
            out += f"[{part}]"
            node = node[part]
        elif isinstance(node, dict) and (part in node or (missing and i == len(loc) - 1)):
            out += f".{part}" if out else str(part)
            node = node.get(part)
        # else: a union branch tag, not a key of the data
    return out


def _got(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _message(err: dict) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    hint = ""
    if kind not in _BUILTIN:
        return err["msg"]          # our own rules word their message in full
    if kind in _MESSAGES:
        msg = _MESSAGES[kind]
    elif kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()))
        msg = f"must be {op} {bound}"
    elif kind == "literal_error":
        expected = re.findall(r"'([^']*)'|\b(\d+)\b", ctx.get("expected", ""))
        options = [a or b for a, b in expected]
        msg = f"must be {ctx.get('expected', '')}" if len(options) == 1 else f"must be one of {ctx.get('expected', '')}"
        near = nearest(err["input"], options) if isinstance(err.get("input"), str) and len(options) > 1 else None
        hint = f"; did you mean {near!r}?" if near else ""
    elif kind in ("too_short", "too_long"):
        n = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        msg = f"must have {'at least' if kind == 'too_short' else 'at most'} {n} entr{'y' if n == 1 else 'ies'}"
    elif kind in ("string_too_short", "string_too_long"):
        msg = "must not be empty" if kind == "string_too_short" else "is too long"
    elif kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        msg = "must not contain NUL characters" if "x00" in pattern else f"must match {pattern}"
    else:   # value_error: an AfterValidator's ValueError
        msg = str(ctx.get("error", err["msg"]))
    shown = kind in ("dict_type", "model_type", "model_attributes_type", "list_type", "tuple_type", "string_type")
    if "input" in err and kind != "missing" and (shown or not isinstance(err["input"], (dict, list))):
        msg += f" (got {_got(err['input'])}{hint})"
    elif hint:
        msg += f" ({hint[2:]})"
    return msg


_SHAPE_ERRORS = ("model_type", "dict_type", "list_type", "string_type", "literal_error", "float_type", "int_type")


def user_error(exc: ValidationError, where: str, data: Any) -> UserError:
    """The first error of ``exc`` as one line: ``WHERE: FIELD.PATH: what is wrong (got X)``."""
    errors = exc.errors(include_url=False)
    # errors come in field order; a union reports one error per branch: the deepest (the
    # branch that matched the data's shape) is the real one
    first = errors[0]["loc"][:1]
    group = [e for e in errors if e["loc"][:1] == first]
    err = max(group, key=lambda e: (e["type"] not in _SHAPE_ERRORS, len(e["loc"])))
    path = _loc(tuple(err["loc"]), data, err["type"] == "missing")
    return UserError(f"{where}: {path}: {_message(err)}" if path else f"{where}: {_message(err)}")


def validate(model: type[BaseModel], data: Any, where: str):
    """``model`` validated from ``data`` (a parsed YAML document), or UserError naming
    ``where`` (the kind and file) and the field path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise user_error(exc, where, data) from None
