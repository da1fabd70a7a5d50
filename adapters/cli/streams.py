"""CLI: relay events to NATS JetStream, and run subscribers (on NATS or in-process)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import Annotated

import typer
from orderflow.adapters.cli.context import engine, settings
from orderflow.adapters.cli.output import print_table, reports_errors
from orderflow.adapters.nats import Relay, find, import_modules, registered, subscriber_runner
from orderflow.adapters.nats.jetstream import require_nats
from orderflow.adapters.settings import Settings

NatsUrl = Annotated[
    str | None, typer.Option("--nats-url", help="nats://host:4222 [env: ORDERFLOW_NATS_URL]")
]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log every reconnect and retry.")]


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT, so long runs finish their work and exit 0."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _log_to_stderr(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("orderflow.streams")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)


def _with_nats(ctx: typer.Context, nats_url: str | None) -> Settings:
    current = settings(ctx)
    return current.model_copy(update={"nats_url": nats_url}) if nats_url else current


@reports_errors
def relay(ctx: typer.Context, nats_url: NatsUrl = None, verbose: Verbose = False) -> None:
    """Relay every stored event to NATS JetStream, in log order, until SIGTERM or Ctrl-C."""
    config = _with_nats(ctx, nats_url)
    require_nats(config)
    stop = _stop_on_signals()
    _log_to_stderr(verbose)
    relayer = Relay(config, engine(ctx))
    relayer.run(stop)
    stats = relayer.stats
    typer.echo(
        f"relay stopped at position {stats.position}: {stats.stored} stored, "
        f"{stats.duplicates} already there, {stats.restarts} restarts"
    )


@reports_errors
def subscribe(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Subscriber to run; omit to list them")] = None,
    in_process: Annotated[
        bool, typer.Option("--in-process", help="Read the event log directly even if NATS is set.")
    ] = False,
    imports: Annotated[
        list[str] | None,
        typer.Option("--import", help="Module registering more subscribers (repeatable)."),
    ] = None,
    nats_url: NatsUrl = None,
    verbose: Verbose = False,
) -> None:
    """Run a subscriber until SIGTERM or Ctrl-C: a durable JetStream consumer, or in-process."""
    import_modules(imports or [])
    if name is None:
        rows = [
            (s.name, ", ".join(t.__qualname__ for t in s.events) or "every event", s.description)
            for s in registered().values()
        ]
        print_table("Subscribers", ["name", "events", "what it does"], rows)
        return
    find(name)
    config = _with_nats(ctx, nats_url)
    stop = _stop_on_signals()
    _log_to_stderr(verbose)
    runner = subscriber_runner(config, name, engine(ctx), in_process=in_process)
    runner.run(stop)
    typer.echo(f"subscriber {name} stopped: {runner.handled} handled, {runner.dead} dead-lettered")
