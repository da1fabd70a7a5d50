"""CLI: `orderflow bench` runs the benchmarks against raw baselines (see docs/performance.md)."""

from __future__ import annotations

from typing import Annotated

import typer
from orderflow.adapters.bench.runner import SCENARIOS, main


def bench(
    quick: Annotated[bool, typer.Option(help="Small sizes (what CI runs)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per result")] = False,
    backend: Annotated[
        list[str] | None, typer.Option(help="postgres and/or sqlite (default both)")
    ] = None,
    scenario: Annotated[
        list[str] | None, typer.Option(help=f"Repeatable; one of {', '.join(SCENARIOS)}")
    ] = None,
) -> None:
    """Measure the engine against raw baselines in the same run; print a table or JSON lines."""
    raise typer.Exit(main(scenario, backend or ["postgres", "sqlite"], quick, as_json))
