"""``accelsim schema KIND``: the JSON Schema of a config kind (for editors)."""

from __future__ import annotations

import json


def register(sub) -> None:
    from accelsim.schema import KIND_NAMES

    p = sub.add_parser("schema", help="print the JSON Schema of a config kind (docs/config-reference.md)")
    p.add_argument("kind", choices=KIND_NAMES, help="config kind")
    p.set_defaults(func=cmd_schema)


def cmd_schema(args) -> int:
    from accelsim.schema import KINDS

    schema = KINDS[args.kind].model_json_schema(by_alias=True)
    if args.kind == "accelerator":   # a user's file is merged over the packaged one: nothing is required
        for node in [schema, *schema.get("$defs", {}).values()]:
            node.pop("required", None)
    print(json.dumps(schema, indent=2))
    return 0
