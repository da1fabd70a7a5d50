"""CLI for auditors: the event log, an order's history, the stock card, and the read models.

`orderflow events` and `orderflow stock card` stream: rows are printed as they are read, so a
log of millions of events never sits in memory (a rich table would hold every row).
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, TextIO
from uuid import UUID

import typer
from orderflow.adapters.cli.catalogue import JsonFlag
from orderflow.adapters.cli.context import engine
from orderflow.adapters.cli.output import (
    console,
    err_console,
    fail,
    print_fields,
    print_table,
    reports_errors,
    vnd,
)
from orderflow.adapters.cli.stock import stock_app
from orderflow.projections import admin, audit
from orderflow.projections.registry import VIEWS, open_read_models
from orderflow.projections.view import LOCAL_TIME
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from orderflow.errors import InvalidInputError

projections_app = typer.Typer(
    help="Read models: status, rebuild, verify, run.", no_args_is_help=True
)


# output that streams -----------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def json_line(value: dict[str, Any]) -> str:
    return json.dumps(value, default=_plain, ensure_ascii=False, separators=(",", ":"))


class Lines:
    """Fixed-width rows written straight to stdout, a header first."""

    def __init__(self, columns: Sequence[tuple[str, int]], out: TextIO | None = None) -> None:
        self.columns = columns
        self.out = out or sys.stdout
        self.buffer: list[str] = []
        self.row([name for name, _ in columns])

    def row(self, cells: Iterable[Any]) -> None:
        parts = []
        for (_, width), cell in zip(self.columns, cells, strict=True):
            text = vnd(cell) if isinstance(cell, Decimal) else str(cell)
            parts.append(
                text.rjust(width) if width > 0 else text.ljust(-width) if width < 0 else text
            )
        self.buffer.append("  ".join(parts).rstrip())
        if len(self.buffer) >= 500:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.out.write("\n".join(self.buffer) + "\n")
            self.buffer = []
        self.out.flush()


def local(moment: datetime) -> str:
    return moment.astimezone(LOCAL_TIME).strftime("%Y-%m-%d %H:%M:%S")


# orderflow events --------------------------------------------------------------------------
@reports_errors
def events_command(
    ctx: typer.Context,
    aggregate: Annotated[
        str | None,
        typer.Option(
            "--aggregate", "-a", help="An aggregate id, or an order as channel/external-id"
        ),
    ] = None,
    types: Annotated[
        list[str] | None,
        typer.Option("--type", "-t", help="Order.Placed, Placed or Order (repeatable)"),
    ] = None,
    after: Annotated[int, typer.Option(help="Only positions after this one")] = 0,
    until: Annotated[int | None, typer.Option(help="Only positions up to this one")] = None,
    since: Annotated[
        str | None,
        typer.Option(help="From this time on (ISO; Vietnam time unless a zone is given)"),
    ] = None,
    before: Annotated[str | None, typer.Option(help="Before this time (ISO)")] = None,
    limit: Annotated[int | None, typer.Option(help="Stop after this many events")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """Stream stored events in log order, filtered by aggregate, type, position and time."""
    if after < 0 or (until is not None and until < 0) or (limit is not None and limit < 0):
        raise InvalidInputError("position", "positions and limits are whole numbers of at least 0")
    e = engine(ctx)
    selection: dict[str, Any] = {
        "aggregate": audit.parse_aggregate(e, aggregate) if aggregate else None,
        "types": types or (),
        "after": after,
        "until": until,
        "since": audit.parse_moment(since, "since") if since else None,
        "before": audit.parse_moment(before, "before") if before else None,
    }
    if as_json:
        write_lines(audit.json_lines(e, **selection), limit)
        return
    table = Lines(
        [("position", 9), ("time", -19), ("aggregate", -8), ("v", 4), ("event", -28), ("what", 0)]
    )
    for count, r in enumerate(audit.events(e, **selection), 1):
        table.row([r.position, local(r.at), r.aggregate_id.hex[:8], r.version, r.name, r.text])
        if limit is not None and count >= limit:
            break
    table.flush()


def write_lines(lines: Iterable[str], limit: int | None = None, out: TextIO | None = None) -> None:
    """Write lines to stdout a thousand at a time (one write per line would dominate an export)."""
    out = out or sys.stdout
    buffer: list[str] = []
    for count, line in enumerate(lines, 1):
        buffer.append(line)
        if len(buffer) >= 1000:
            out.write("\n".join(buffer) + "\n")
            buffer = []
        if limit is not None and count >= limit:
            break
    if buffer:
        out.write("\n".join(buffer) + "\n")
    out.flush()


# orderflow history -------------------------------------------------------------------------------
@reports_errors
def history_command(
    ctx: typer.Context,
    order: Annotated[
        str,
        typer.Argument(
            help="An order as channel/external-id (shopee/2403ABC), or any aggregate id"
        ),
    ],
    at: Annotated[
        str | None, typer.Option(help="Show the state as it was at this time (ISO; Vietnam time)")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """An order's full history, or its state as it was at a moment."""
    e = engine(ctx)
    found = audit.history(
        e, audit.parse_aggregate(e, order), audit.parse_moment(at, "at") if at else None
    )
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "id": found.aggregate_id,
                    "kind": found.kind,
                    "version": found.version,
                    "at": at,
                    "state": found.state,
                    "events": [
                        {
                            "version": r.version,
                            "at": r.at,
                            "event": r.name,
                            "text": r.text,
                            "data": r.data,
                        }
                        for r in found.events
                    ],
                },
                default=_plain,
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    rows = [(r.version, local(r.at), r.name, r.text) for r in found.events]
    print_table(f"History of {found.kind} {order}", ["v", "time", "event", "what"], rows)
    when = f" at {at}" if at else ""
    print_state(f"{found.kind} {order}{when} (version {found.version})", found.state)


def print_state(title: str, state: dict[str, Any]) -> None:
    """Scalars as a field table; lists of records as their own tables."""
    scalars = [(k, _cell(v)) for k, v in state.items() if not _is_records(v)]
    print_fields(title, scalars)
    for key, value in state.items():
        if _is_records(value) and value:
            columns = list(value[0])
            print_table(key, columns, [[_cell(item.get(c, "")) for c in columns] for item in value])


def _is_records(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _cell(value: Any) -> Any:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_cell(v)}" for k, v in value.items()) or "-"
    if isinstance(value, list):
        return ", ".join(str(_cell(v)) for v in value) or "-"
    return value


# orderflow stock card ----------------------------------------------------------------------
@stock_app.command("card")
@reports_errors
def stock_card(
    ctx: typer.Context,
    sku: str,
    warehouse: Annotated[str | None, typer.Option(help="Only this warehouse")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
) -> None:
    """The stock ledger of a SKU: every movement with the running balance."""
    e = engine(ctx)
    code = e.variant(sku).sku
    codes = [e.warehouse(warehouse).code] if warehouse else [w.code for w in e.warehouses()]
    lines = audit.stock_card(e, code, codes)
    if as_json:
        for line in lines:
            sys.stdout.write(json_line({**vars(line), "at": line.at}) + "\n")
        return
    table = Lines(
        [
            ("time", -19),
            ("warehouse", -9),
            ("movement", -14),
            ("in", 6),
            ("out", 6),
            ("on hand", 8),
            ("reserved", 8),
            ("total", 8),
            ("what", 0),
        ]
    )
    for line in lines:
        table.row(
            [
                local(line.at),
                line.warehouse,
                line.movement,
                line.quantity_in or "",
                line.quantity_out or "",
                line.on_hand,
                line.reserved,
                line.total_on_hand,
                line.text,
            ]
        )
    table.flush()


# orderflow projections ... -----------------------------------------------------------------
ViewNames = Annotated[
    list[str] | None,
    typer.Argument(help=f"Views (default: all): {', '.join(v.name for v in VIEWS)}"),
]


@projections_app.command("status")
@reports_errors
def status(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Each view's position and how far it is behind the log."""
    found = admin.status(engine(ctx))
    if as_json:
        typer.echo(json.dumps([{**vars(s), "behind": s.behind} for s in found], indent=2))
        return
    print_table(
        "Read models",
        ["view", "position", "log", "behind", "what"],
        [(s.name, s.position, s.head, s.behind, s.title) for s in found],
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )


@projections_app.command("rebuild")
@reports_errors
def rebuild(ctx: typer.Context, names: ViewNames = None) -> None:
    """Empty views and apply the whole log again (queries see partial data until it ends)."""
    e = engine(ctx)
    head = e.recorder.max_notification_id() or 0
    with _progress() as bar:
        task = bar.add_task(f"rebuild {', '.join(names or ['all views'])}", total=head)
        done = admin.rebuild(
            e, names, progress=lambda _, p: bar.update(task, completed=min(p, head))
        )
    for s in done:
        console.print(f"rebuilt {s.name}: position {s.position}")


@projections_app.command("verify")
@reports_errors
def verify(ctx: typer.Context, names: ViewNames = None, as_json: JsonFlag = False) -> None:
    """Replay the log into fresh views and compare them row by row; exit 1 on any difference."""
    e = engine(ctx)
    head = max(e.recorder.max_notification_id() or 0, 1)
    tasks: dict[str, Any] = {}
    with _progress() as bar:

        def report(view: str, position: int) -> None:
            if view not in tasks:  # out of the log's head when the command started
                tasks[view] = bar.add_task(f"replay {view}", total=head)
            bar.update(tasks[view], completed=min(position, head))

        results = admin.verify(e, names, progress=None if as_json else report)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "view": r.view,
                        "position": r.position,
                        "rows": r.rows,
                        "ok": r.ok,
                        "differences": [str(d) for d in r.differences],
                        "more": r.more,
                    }
                    for r in results
                ],
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        for r in results:
            verdict = (
                "[green]ok[/]" if r.ok else f"[red]{len(r.differences) + r.more} difference(s)[/]"
            )
            console.print(f"{r.view}: {r.rows} rows at position {r.position}: {verdict}")
            for difference in r.differences:
                err_console.print(f"  {difference}", highlight=False, markup=False)
            if r.more:
                err_console.print(f"  ... and {r.more} more", highlight=False)
    if not all(r.ok for r in results):
        raise typer.Exit(code=1)


@projections_app.command("run")
@reports_errors
def run(ctx: typer.Context, names: ViewNames = None) -> None:
    """Keep the views up to date until stopped (Ctrl-C or SIGTERM); resumes where it stopped."""
    models = open_read_models(engine(ctx), names)
    stop = lambda *_: models.stop(timeout=0)  # noqa: E731
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    err_console.print(
        f"following the log for {len(models.views)} view(s); stop with Ctrl-C", highlight=False
    )
    try:
        models.run_forever()
    except Exception as error:
        fail(str(error))
