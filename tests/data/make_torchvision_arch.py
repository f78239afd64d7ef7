"""Write tests/data/torchvision_arch.json: the state-dict keys and shapes, parameter counts
and leaf-module hyperparameters of torchvision's ImageNet models, which accelsim's zoo
must reproduce so that a torchvision checkpoint loads unchanged.

A development tool, run by hand (not by the tests):  pip install torchvision==0.28.0
(the release paired with torch 2.13), then  python tests/data/make_torchvision_arch.py.
The PyPI wheel of torchvision is built against CUDA torch; its compiled ops do not load
beside the CPU torch build, so the package's __init__ (which registers those ops) is
skipped and only the pure-Python model definitions are imported. Models are built on the
meta device: only names, shapes and hyperparameters are read, no weights are made.
"""

import json
import re
import sys
import types
from importlib.util import find_spec
from pathlib import Path

import torch

NAMES = {"resnet18": "resnet18", "vgg16-bn": "vgg16_bn", "squeezenet1_0": "squeezenet1_0",
         "squeezenet1_1": "squeezenet1_1", "mobilenet_v2": "mobilenet_v2"}


def torchvision_models():
    spec = find_spec("torchvision")
    if spec is None:
        sys.exit("pip install torchvision==0.28.0 first")
    pkg = types.ModuleType("torchvision")
    pkg.__path__ = list(spec.submodule_search_locations)
    sys.modules["torchvision"] = pkg
    import torchvision.models as tm
    return tm


def describe(model: torch.nn.Module) -> dict:
    state = model.state_dict()
    leaves = {n: repr(m) for n, m in model.named_modules() if n and not list(m.children())}
    return {"parameters": sum(p.numel() for p in model.parameters()),
            "state_dict": [[k, list(v.shape)] for k, v in state.items()],
            "modules": leaves}


def main() -> None:
    tm = torchvision_models()
    out = {}
    with torch.device("meta"):
        for ours, theirs in NAMES.items():
            out[ours] = describe(getattr(tm, theirs)())
    path = Path(__file__).with_name("torchvision_arch.json")
    text = json.dumps({"torchvision": "0.28.0", "models": out}, indent=1)
    # one key/shape pair per line: a diff of the file reads as a diff of the architecture
    text = re.sub(r"\[\n\s+(\"[^\"]+\"),\n\s+\[([\d,\s]*)\]\n\s+\]",
                  lambda m: "[" + m.group(1) + ", [" + ", ".join(m.group(2).split()).replace(",,", ",") + "]]", text)
    path.write_text(text + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
