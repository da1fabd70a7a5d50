"""Read models of orderflow, kept next to the events and updated exactly once per event.

Embedded use (the views follow the log in a background thread of your process):

    from orderflow import open_engine
    from orderflow.projections import run_projections

    engine = open_engine("sqlite:///orderflow.db")
    with run_projections(engine) as views:
        position = engine.receive_stock("TS-RED", "HN", 10)
        views.wait(position)                   # read-your-writes
        print(views.stock.levels(sku="TS-RED"))

Or without a thread: `views = catch_up(engine)` applies whatever is new, then answers queries.
In production run one `orderflow projections run` process per database.
"""

from orderflow.projections.registry import (
    VIEWS,
    ReadModels,
    catch_up,
    open_read_models,
    open_views,
    run_projections,
    view_classes,
)
from orderflow.projections.runner import ProjectionError, Runner
from orderflow.projections.sql import Table
from orderflow.projections.tracking import ViewStore, open_store
from orderflow.projections.view import Batch, View, on

__all__ = [
    "VIEWS",
    "Batch",
    "ProjectionError",
    "ReadModels",
    "Runner",
    "Table",
    "View",
    "ViewStore",
    "catch_up",
    "on",
    "open_read_models",
    "open_store",
    "open_views",
    "run_projections",
    "view_classes",
]
