"""ZigZag (PyPI ``zigzag-dse``, KU Leuven) in its own virtual environment, for the
benchmarks that compare with it (energy_vs_zigzag.py) or read its bundled CACTI
(cacti_sram.py). ZigZag is never a dependency of accelsim; ``six``, which its CACTI wrapper
imports without declaring it, is installed beside it."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

VENV = Path(os.environ.get("ACCELSIM_ZIGZAG_VENV", Path.home() / ".cache" / "accelsim" / "zigzag-venv"))
PACKAGES = ("zigzag-dse==3.9.1", "six")


def zigzag_python() -> Path:
    """The venv's python, creating the venv and installing ZigZag when missing."""
    py = VENV / "bin" / "python"
    if not py.exists():
        print(f"creating {VENV} for ZigZag", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    ok = subprocess.run([str(py), "-c", "import zigzag, six"], capture_output=True).returncode == 0
    if not ok:
        subprocess.run([str(py), "-m", "pip", "install", "-q", *PACKAGES], check=True)
    return py


def run_in_zigzag(script: str, *args: str, timeout: float = 3600) -> str:
    """Run ``script`` (Python source) with the ZigZag venv's interpreter; its stdout."""
    py = zigzag_python()
    r = subprocess.run([str(py), "-c", script, *args], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"ZigZag run failed:\n{r.stderr[-4000:]}")
    return r.stdout
