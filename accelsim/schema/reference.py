"""docs/config-reference.md, generated from the models: every field of every config kind.

``python -m accelsim.schema.reference`` rewrites the page; the test suite fails when the
committed page differs from what the models give.
"""

from __future__ import annotations

import sys
from pathlib import Path

from accelsim.schema import KINDS

PAGE = Path(__file__).resolve().parents[2] / "docs" / "config-reference.md"
_WHAT = {
    "run": "`accelsim run CONFIG` (packaged: accelsim/configs/run.yaml)",
    "campaign": "`accelsim campaign SPEC` (docs/campaigns.md)",
    "accelerator": "`--config`, `accelerator:`; merged over accelsim/configs/accelerator.yaml (docs/hardware.md)",
    "energy": "`energy_table:` (packaged: accelsim/configs/energy.yaml, docs/energy.md)",
    "ber-curve": "`--curve`, `ber_curve:` (packaged: accelsim/configs/ber-*.yaml; default ber-salami-vc707.yaml; docs/faults.md)",
    "manifest": "`manifest.yaml` of a memory image, written by `accelsim export` (docs/formats.md)",
    "model-card": "`NAME.yaml` next to `NAME.safetensors`, written by `accelsim train` (docs/models.md)",
}


def _packaged(name: str) -> dict:
    import yaml
    return yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / name).read_text())


# kinds whose user file is merged over a packaged one: its values are the defaults
MERGED_OVER = {"accelerator": _packaged("accelerator.yaml")}


def _bounds(s: dict) -> str:
    out = []
    for key, op in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<")):
        if key in s:
            out.append(f"{op} {s[key]:g}" if isinstance(s[key], float) else f"{op} {s[key]}")
    for key, word in (("minItems", "at least"), ("maxItems", "at most"), ("minProperties", "at least"),
                      ("maxProperties", "at most")):
        if key in s:
            out.append(f"{word} {s[key]}")
    return f" ({', '.join(out)})" if out else ""


def _type(s: dict) -> str:
    """A short, readable type of a JSON Schema node."""
    if "$ref" in s:
        return s["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in s:
        kinds = [_type(x) for x in s["anyOf"] if x.get("type") != "null"]
        null = any(x.get("type") == "null" for x in s["anyOf"])
        return " or ".join(kinds) + (" or null" if null else "")
    if "const" in s:
        return repr(s["const"])
    if "enum" in s:
        return "one of " + ", ".join(repr(v) for v in s["enum"])
    t = s.get("type")
    if t == "array":
        return f"list of {_type(s.get('items', {}))}" + _bounds(s)
    if t == "object":
        value = s.get("additionalProperties")
        key = _type(s["propertyNames"]) if "propertyNames" in s else "string"
        return (f"mapping {key} -> {_type(value)}" if isinstance(value, dict) else "mapping") + _bounds(s)
    names = {"integer": "integer", "number": "number", "string": "string", "boolean": "bool"}
    return names.get(t, t or "any") + _bounds(s)


def _rows(s: dict, defs: dict, prefix: str, seen: set, packaged: dict | None = None) -> list[str]:
    """Table rows of a JSON Schema node; ``packaged``: the packaged file a user's file is
    merged over (its values are the defaults)."""
    rows = []
    required = set(s.get("required", ()))
    for name, prop in s.get("properties", {}).items():
        key = prefix + name
        sub = packaged.get(name) if isinstance(packaged, dict) else None
        if packaged is not None and sub is not None and not isinstance(sub, dict):
            default = f"`{sub!r}` (packaged)"
        elif name in required and packaged is None:
            default = "required"
        else:
            default = f"`{prop['default']!r}`" if "default" in prop else ("" if isinstance(sub, dict) else "null")
        desc = prop.get("description", "").replace("|", "\\|")
        kind = _type(prop).replace("|", "\\|")
        rows.append(f"| `{key}` | {kind} | {default} | {desc} |".replace("\n", " "))
        refs = [prop] + prop.get("anyOf", []) + ([prop["items"]] if "items" in prop else [])
        for r in refs:
            if "$ref" in r:
                ref = r["$ref"].rsplit("/", 1)[-1]
                if ref not in seen:
                    seen.add(ref)
                    rows += _rows(defs[ref], defs, key + ("[]." if r is prop.get("items") else "."), seen,
                                  sub if isinstance(sub, dict) else None)
    return rows


def render() -> str:
    lines = ["# Config reference", "",
             "Generated from the typed models in `accelsim/schema/` by `python -m accelsim.schema.reference`",
             "(a test fails when this page is stale). `accelsim schema KIND` prints the JSON Schema of a kind,",
             "for editors. Every model is strict (no `\"3\"` for 3, `true` is not a number), refuses NaN and",
             "infinity, and refuses unknown keys with the nearest valid name; an error is one line naming",
             "the file and the field path, e.g. `campaign spec sweep.yaml: chips: must be >= 1 (got 0)`.", ""]
    for kind, model in KINDS.items():
        doc = (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else ""
        lines += [f"## {kind}", "", f"{_WHAT[kind]}. {doc}", "",
                  "| field | type | default | meaning |", "|---|---|---|---|"]
        schema = model.model_json_schema(by_alias=True)
        lines += _rows(schema, schema.get("$defs", {}), "", set(), MERGED_OVER.get(kind))
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    text = render()
    if argv and argv[0] == "--check":
        return 0 if PAGE.read_text() == text else 1
    PAGE.write_text(text)
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
