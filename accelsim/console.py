"""A rich console that keeps tables readable when the output is not a terminal."""

from __future__ import annotations

from rich.console import Console


def get_console() -> Console:
    console = Console()
    return console if console.is_terminal else Console(width=160)
