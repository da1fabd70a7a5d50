"""Run the benchmark scenarios and print their results as a table or JSON lines."""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime

from orderflow.adapters.bench import place_order, stock_history, streams
from orderflow.adapters.bench.result import Result
from rich.console import Console
from rich.table import Table

Scenario = Callable[[str, bool], Iterator[Result]]

SCENARIOS: dict[str, tuple[Scenario, tuple[str, ...]]] = {
    "place-order": (place_order.throughput, ("postgres", "sqlite")),
    "place-order-latency": (place_order.latency, ("postgres",)),
    "hot-skus": (place_order.hot_skus, ("postgres", "sqlite")),
    "stock-history": (stock_history.run, ("postgres", "sqlite")),
    "relay": (streams.relay, ("postgres", "sqlite")),
    "subscriber-latency": (streams.subscriber_latency, ("postgres", "sqlite")),
}


def register(name: str, scenario: Scenario, backends: tuple[str, ...]) -> None:
    """Add a scenario (used by the modules that define them)."""
    SCENARIOS[name] = (scenario, backends)


def run(names: Iterable[str], backends: Iterable[str], quick: bool) -> Iterator[Result]:
    """Every result of the chosen scenarios on the chosen backends, as they are measured."""
    wanted = set(backends)
    for name in names:
        scenario, supported = SCENARIOS[name]
        for backend in supported:
            if backend in wanted:
                yield from scenario(backend, quick)


def machine() -> str:
    """One line describing where the figures were measured."""
    import os

    return (
        f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


def print_table(results: list[Result], console: Console) -> None:
    table = Table(title=f"orderflow benchmarks — {machine()}", title_justify="left")
    for column in ("scenario", "backend", "value", "unit", "baseline", "ratio", "target", "met"):
        table.add_column(
            column, justify="right" if column in ("value", "baseline", "ratio") else "left"
        )
    for r in results:
        table.add_row(
            r.scenario,
            r.backend,
            f"{r.value:,.2f}",
            r.unit,
            "" if r.baseline is None else f"{r.baseline:,.2f}",
            "" if r.ratio is None else f"{r.ratio:.2f}x",
            r.target,
            {True: "[green]yes[/]", False: "[red]no[/]", None: ""}[r.met],
        )
    console.print(table)


def main(names: list[str] | None, backends: list[str], quick: bool, as_json: bool) -> int:
    """Run and print; returns the process exit status (0, even when a target is missed)."""
    unknown = [n for n in names or [] if n not in SCENARIOS]
    if unknown:
        print(
            f"scenario: unknown {', '.join(unknown)} (known: {', '.join(SCENARIOS)})",
            file=sys.stderr,
        )
        return 1
    console = Console(stderr=as_json)
    started = time.perf_counter()
    results = []
    for result in run(names or list(SCENARIOS), backends, quick):
        results.append(result)
        if as_json:
            print(result.as_json(), flush=True)
        else:
            console.print(
                f"  {result.scenario} [{result.backend}]: {result.value:,.2f} {result.unit}",
                highlight=False,
            )
    if not as_json:
        print_table(results, console)
        console.print(f"total {time.perf_counter() - started:.1f}s")
    return 0
