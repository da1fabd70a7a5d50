"""CLI: shipments — pack an order, record the carrier's booking and status updates, COD.

No real carrier client exists yet, so the CLI records what the seller did at the carrier's
portal (booking, cancellation) and what the carrier reported; it never calls a carrier itself.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import typer
from orderflow.adapters.cli.catalogue import JsonFlag
from orderflow.adapters.cli.context import engine
from orderflow.adapters.cli.output import print_fields, print_json, print_table, reports_errors

from orderflow.engine import Engine
from orderflow.errors import InvalidInputError
from orderflow.shipping import ShipmentInfo

shipment_app = typer.Typer(
    help="Shipments: pack an order, record the carrier's booking, status updates and COD.",
    no_args_is_help=True,
)

ShipmentArg = Annotated[
    str, typer.Argument(help="Shipment id, or a tracking number together with --carrier")
]
CarrierOption = Annotated[
    str | None, typer.Option("--carrier", help="ghn or viettelpost, when giving a tracking number")
]
At = Annotated[str | None, typer.Option(help="When (ISO date-time; default now)")]


def resolve(e: Engine, shipment: str, carrier: str | None) -> UUID:
    """A shipment id from an id, or from a tracking number and its carrier."""
    try:
        return UUID(shipment.strip())
    except ValueError:
        if not carrier:
            raise InvalidInputError(
                "shipment",
                f"{shipment!r} is not a shipment id; add --carrier for a tracking number",
            ) from None
        return e.find_shipment(carrier, shipment)


def dimensions(text: str) -> tuple[int, int, int]:
    """'30x20x10' as (30, 20, 10)."""
    parts = text.lower().replace("*", "x").split("x")
    try:
        length, width, height = (int(p) for p in parts)
    except ValueError:
        raise InvalidInputError("--dims", f"{text!r} is not LENGTHxWIDTHxHEIGHT in cm") from None
    return length, width, height


def print_shipment(s: ShipmentInfo) -> None:
    """A shipment and its carrier history."""
    d = s.dimensions_cm
    print_fields(
        f"Shipment {s.tracking_number or s.id}",
        [
            ("id", s.id), ("order", s.order_reference), ("carrier", s.carrier),
            ("service", s.service), ("status", s.status), ("tracking number", s.tracking_number),
            ("fee", s.fee), ("fee paid by", s.fee_payer), ("COD", s.cod_amount),
            ("COD collected", s.cod_collected), ("COD remitted", s.cod_remitted),
            ("weight kg", str(s.weight_kg)), ("size cm", f"{d['length']}x{d['width']}x{d['height']}"),
            ("expected delivery", s.expected_delivery), ("label", s.label),
            *([("after the failure", s.decision)] if s.decision else []),
        ],
    )  # fmt: skip
    items = [(i["sku"], i["name"], i["warehouse"], i["quantity"]) for i in s.items]
    print_table("Items", ["sku", "name", "from", "qty"], items)
    if s.history:
        rows = [
            (h["at"], h["status"] or "-", h["carrier_status"], h["reason"], h["applied"])
            for h in s.history
        ]
        print_table("Carrier updates", ["at", "status", "carrier code", "reason", "applied"], rows)


@shipment_app.command("create")
@reports_errors
def create(
    ctx: typer.Context,
    order: Annotated[str, typer.Argument(help="Order id or CHANNEL/EXTERNAL_ID")],
    carrier: Annotated[str, typer.Option(help="ghn or viettelpost")],
    weight: Annotated[str, typer.Option(help="Parcel weight in kg, e.g. 1.2")],
    service: Annotated[str, typer.Option(help="express or economy")] = "economy",
    dims: Annotated[str, typer.Option("--dims", help="LENGTHxWIDTHxHEIGHT in cm")] = "30x20x10",
    fee_payer: Annotated[
        str, typer.Option(help="Who pays the carrier: seller or buyer")
    ] = "seller",
    cod: Annotated[
        str | None, typer.Option(help="COD amount in VND (default: what a COD buyer owes)")
    ] = None,
    note: Annotated[str, typer.Option(help="Note for the carrier")] = "",
) -> None:
    """Pack a fully reserved order into a shipment (book it at the carrier, then `booked`)."""
    e = engine(ctx)
    shipment_id = e.request_shipment(
        order, carrier, service, weight_kg=weight, dimensions_cm=dimensions(dims),
        fee_payer=fee_payer, cod_amount=cod, note=note,
    )  # fmt: skip
    info = e.shipment(shipment_id)
    typer.echo(f"shipment {shipment_id} for order {info.order_reference}: COD {info.cod_amount}")


@shipment_app.command("booked")
@reports_errors
def booked(
    ctx: typer.Context,
    shipment: Annotated[str, typer.Argument(help="Shipment id")],
    tracking_number: Annotated[str, typer.Argument(help="The carrier's tracking number")],
    fee: Annotated[str, typer.Option(help="The carrier's fee in VND")] = "0",
    expected: Annotated[str | None, typer.Option(help="Expected delivery (ISO date-time)")] = None,
    label: Annotated[str, typer.Option(help="Label reference (print URL or document id)")] = "",
) -> None:
    """Record the booking made at the carrier: tracking number, fee, expected delivery, label."""
    e = engine(ctx)
    shipment_id = resolve(e, shipment, None)
    e.record_carrier_booking(shipment_id, tracking_number, fee, expected, label)
    info = e.shipment(shipment_id)
    typer.echo(f"shipment {info.id} booked with {info.carrier} as {info.tracking_number}")


@shipment_app.command("update")
@reports_errors
def update(
    ctx: typer.Context,
    shipment: ShipmentArg,
    status: Annotated[
        str,
        typer.Argument(
            help="picked_up, in_transit, delivered, delivery_failed, returning, "
            "returned, or the carrier's own code (GHN delivering, Viettel Post 501)"
        ),
    ],
    carrier: CarrierOption = None,
    at: At = None,
    reason: Annotated[str, typer.Option(help="Why a delivery failed")] = "",
) -> None:
    """Record a carrier status update (repeats and late arrivals change nothing wrongly)."""
    e = engine(ctx)
    shipment_id = resolve(e, shipment, carrier)
    outcome = e.record_carrier_update(shipment_id, status, at, reason)
    info = e.shipment(shipment_id)
    typer.echo(f"shipment {info.tracking_number or info.id}: {outcome}; now {info.status}")


@shipment_app.command("cancel")
@reports_errors
def cancel(
    ctx: typer.Context,
    shipment: ShipmentArg,
    reason: Annotated[str, typer.Option(help="Why the parcel is cancelled")],
    carrier: CarrierOption = None,
) -> None:
    """Record a parcel cancelled before pick-up; the order can be packed again."""
    e = engine(ctx)
    shipment_id = resolve(e, shipment, carrier)
    e.cancel_shipment(shipment_id, reason, tell_carrier=False)
    typer.echo(f"shipment {shipment_id} cancelled; its order is reserved again")


@shipment_app.command("decide")
@reports_errors
def decide(
    ctx: typer.Context,
    shipment: ShipmentArg,
    decision: Annotated[str, typer.Argument(help="redeliver or return")],
    carrier: CarrierOption = None,
) -> None:
    """Record what the carrier was asked after a failed delivery: redeliver or return."""
    e = engine(ctx)
    shipment_id = resolve(e, shipment, carrier)
    if decision == "redeliver":
        e.redeliver_shipment(shipment_id, tell_carrier=False)
    elif decision == "return":
        e.return_shipment_to_sender(shipment_id, tell_carrier=False)
    else:
        raise InvalidInputError("decision", f"{decision!r} is not one of redeliver, return")
    typer.echo(f"shipment {shipment_id}: {decision} requested")


@shipment_app.command("remit")
@reports_errors
def remit(
    ctx: typer.Context,
    shipment: ShipmentArg,
    reference: Annotated[
        str, typer.Argument(help="The carrier's remittance / statement reference")
    ],
    amount: Annotated[str | None, typer.Option(help="VND (default: all collected)")] = None,
    carrier: CarrierOption = None,
    at: At = None,
) -> None:
    """Record COD paid out by the carrier to the seller."""
    e = engine(ctx)
    shipment_id = resolve(e, shipment, carrier)
    e.record_cod_remittance(shipment_id, reference, amount, at)
    info = e.shipment(shipment_id)
    typer.echo(
        f"shipment {info.tracking_number}: {info.cod_remitted} of {info.cod_collected} remitted"
    )


@shipment_app.command("show")
@reports_errors
def show(
    ctx: typer.Context,
    shipment: ShipmentArg,
    carrier: CarrierOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a shipment, its items and every carrier update."""
    e = engine(ctx)
    info = e.shipment(resolve(e, shipment, carrier))
    if as_json:
        return print_json(info)
    print_shipment(info)


@shipment_app.command("list")
@reports_errors
def list_shipments(
    ctx: typer.Context,
    order: Annotated[str, typer.Argument(help="Order id or CHANNEL/EXTERNAL_ID")],
    as_json: JsonFlag = False,
) -> None:
    """List an order's shipments."""
    found = engine(ctx).shipments_of_order(order)
    if as_json:
        return print_json(found)
    rows = [(s.id, s.carrier, s.tracking_number, s.status, s.cod_amount, s.fee) for s in found]
    print_table("Shipments", ["id", "carrier", "tracking", "status", "COD", "fee"], rows)
