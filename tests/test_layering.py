"""The package layering (docs/architecture.md, Layering).

Rule: the graph of accelsim's library packages, built from every import in the source
(module level and inside functions alike), has no cycle, and follows LAYERS: a package
imports only packages of a lower layer. CLI modules (``accelsim/cli.py``,
``accelsim/__main__.py``, ``accelsim/cliargs.py``, every ``*/commands.py`` and the scripts run
with ``python -m``, such as ``nn/retrain_zoo.py``) sit above all of them: they may import any library module, no library module imports them, and a
package's commands import no other package's commands (cli.py registers them all).
Each package also imports on its own, in a fresh interpreter state.
"""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "accelsim"

# low to high; a package may import only packages listed before it (the base modules,
# layer 0, import nothing of accelsim but each other)
LAYERS = [
    {"errors", "fileio", "seeds", "console", "lazy", "progress", "__init__"},
    {"ecc"},
    {"quant"},
    {"schema"},
    {"faults", "nn"},
    {"image"},
    {"infer"},
    {"energy"},
    {"hw"},
    {"campaign"},
    {"report", "rtl"},
    {"run"},
]
CLI = {"cli", "__main__", "cliargs"}
# imports that break the layers today, each with why; the list only shrinks
KNOWN = {("accelsim/nn/train.py", "image"): "train traces the network (image.graph.capture) before its first "
                                          "epoch to refuse an unexportable model early; capture belongs below nn"}


def _unit(path: Path) -> str:
    """The package (or top-level module) a source file belongs to."""
    rel = path.relative_to(PKG)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _is_cli(path: Path) -> bool:
    """A CLI module: ``commands.py``, the top-level entry points, or a script run with
    ``python -m`` (it has a ``__main__`` block, e.g. nn/retrain_zoo.py)."""
    return (path.name == "commands.py" or (path.parent == PKG and path.stem in CLI)
            or 'if __name__ == "__main__":' in path.read_text())


CLI_MODULES = {".".join(("accelsim", *p.relative_to(PKG).with_suffix("").parts))
               for p in PKG.rglob("*.py") if _is_cli(p) and p.stem != "__main__"}


def _imports(path: Path):
    """Every accelsim module ``path`` imports (absolute or relative, anywhere in the file)."""
    tree = ast.parse(path.read_text())
    pkg_parts = ["accelsim", *path.relative_to(PKG).parent.parts]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = pkg_parts[:len(pkg_parts) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "accelsim" and len(parts) > 1:
                yield parts


def _graph():
    edges, cli_edges, bad = {}, [], []
    for path in sorted(PKG.rglob("*.py")):
        src = _unit(path)
        for parts in _imports(path):
            dst = parts[1]
            if not (PKG / dst).is_dir() and not (PKG / f"{dst}.py").is_file():
                continue   # a name of accelsim/__init__.py (``from accelsim import __version__``)
            named = {".".join(parts[:i]) for i in range(2, len(parts) + 1)}
            if named & CLI_MODULES and not _is_cli(path):
                bad.append(f"{path.relative_to(ROOT)} imports the CLI module {'.'.join(parts)}")
            if _is_cli(path):
                if "commands" in parts[2:] and dst != src and path.stem != "cli":
                    bad.append(f"{path.relative_to(ROOT)} imports another package's CLI module {'.'.join(parts)}")
                cli_edges.append((src, dst))
                continue
            if dst in CLI:
                bad.append(f"{path.relative_to(ROOT)} (library) imports accelsim.{dst}")
            elif dst != src and (str(path.relative_to(ROOT)), dst) not in KNOWN:
                edges.setdefault(src, {}).setdefault(dst, str(path.relative_to(ROOT)))
    return edges, bad


def test_the_documented_layers_are_the_checked_ones():
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = text.split("<!-- layers: the test reads this block -->", 1)[1].split("```")[1]
    documented = [set(line.split()[1:]) for line in block.strip().splitlines()]
    assert documented == [names - {"__init__"} for names in LAYERS]


def test_library_packages_follow_the_layers():
    edges, bad = _graph()
    layer = {name: i for i, names in enumerate(LAYERS) for name in names}
    units = {_unit(p) for p in PKG.rglob("*.py") if not _is_cli(p)}
    assert units <= set(layer), f"packages without a layer: {sorted(units - set(layer))}"
    for src, dsts in edges.items():
        for dst, where in dsts.items():
            if not layer[dst] < layer[src] and not (layer[src] == layer[dst] == 0):
                bad.append(f"{where}: {src} (layer {layer[src]}) imports {dst} (layer {layer[dst]})")
    assert not bad, "\n".join(bad)


def test_no_package_cycle():
    edges, _ = _graph()
    seen, stack = set(), []

    def visit(node):
        if node in stack:
            raise AssertionError("package cycle: " + " -> ".join(stack[stack.index(node):] + [node]))
        if node in seen:
            return
        stack.append(node)
        for nxt in edges.get(node, {}):
            visit(nxt)
        stack.pop()
        seen.add(node)

    for node in list(edges):
        visit(node)


def test_each_package_imports_alone():
    """One interpreter; before each package every accelsim module is forgotten, so each
    import starts from nothing (a package that only works after another was imported fails)."""
    packages = sorted(p.name for p in PKG.iterdir() if (p / "__init__.py").is_file())
    code = ("import importlib, sys\n"
            f"for name in {packages!r}:\n"
            "    for m in [m for m in sys.modules if m == 'accelsim' or m.startswith('accelsim.')]:\n"
            "        del sys.modules[m]\n"
            "    importlib.import_module('accelsim.' + name)\n"
            "    importlib.import_module('accelsim.' + name + '.commands') if "
            "importlib.util.find_spec('accelsim.' + name + '.commands') else None\n"
            "print('ok', len(" + repr(packages) + "))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["ok", str(len(packages))]
