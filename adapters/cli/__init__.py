"""The `orderflow` command: a thin typer front end over the engine."""

from __future__ import annotations

from typing import Annotated

import typer

from orderflow.adapters.cli.audit import events_command, history_command, projections_app
from orderflow.adapters.cli.bench import bench
from orderflow.adapters.cli.catalogue import product_app, supplier_app, warehouse_app
from orderflow.adapters.cli.context import CliState
from orderflow.adapters.cli.demo import demo
from orderflow.adapters.cli.invoicing import invoice_app
from orderflow.adapters.cli.orders import order_app
from orderflow.adapters.cli.output import fail, run
from orderflow.adapters.cli.purchasing import purchase_app
from orderflow.adapters.cli.returns import return_app
from orderflow.adapters.cli.shipping import shipment_app
from orderflow.adapters.cli.stock import stock_app
from orderflow.adapters.cli.views import views_app
from orderflow.adapters.cli.streams import relay, subscribe
from orderflow.adapters.settings import load_settings
from orderflow.errors import OrderflowError

app = typer.Typer(
    name="orderflow",
    help="Event-sourced order processing for multi-channel sellers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(warehouse_app, name="warehouse")
app.add_typer(product_app, name="product")
app.add_typer(supplier_app, name="supplier")
app.add_typer(stock_app, name="stock")
app.add_typer(order_app, name="order")
app.add_typer(purchase_app, name="purchase")
app.add_typer(shipment_app, name="shipment")
app.add_typer(invoice_app, name="invoice")
app.add_typer(return_app, name="return")
app.command("demo")(demo)
app.command("bench")(bench)
app.command("relay")(relay)
app.command("subscribe")(subscribe)
app.command("events")(events_command)
app.command("history")(history_command)
app.add_typer(projections_app, name="projections")
app.add_typer(views_app, name="views")


@app.callback()
def root(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(help="sqlite:///file.db or postgresql://... [env: ORDERFLOW_DATABASE_URL]"),
    ] = None,
) -> None:
    """orderflow: orders from every channel, stock across warehouses, shipping, invoicing."""
    try:
        ctx.obj = CliState(load_settings(database_url=database_url))
    except OrderflowError as error:
        fail(str(error))
    ctx.call_on_close(ctx.obj.close)


def main() -> None:
    """Entry point of the `orderflow` script. Every rejected input exits with status 1."""
    run(app)
