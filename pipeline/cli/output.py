"""Where the ``vigil`` commands print: one console for results, one for errors, and how a
command stops with a clear error and an exit code."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

console = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` to stderr and end the command with exit status ``code``."""
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)
