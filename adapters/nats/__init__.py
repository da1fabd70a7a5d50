"""Streams: the NATS JetStream relay and subscribers, and the in-process runner without NATS.

from orderflow.adapters.nats import Relay, Subscriber, register, run_subscriber
Relay(settings).run(stop_event)                       # every stored event -> JetStream
register(Subscriber("my-handler", build=make_handler, events=(Shipment.Requested,)))
run_subscriber(settings, "my-handler", stop_event)    # JetStream if nats_url, else in-process
"""

from __future__ import annotations

import threading

from orderflow.adapters.nats.consumer import NatsSubscriberRunner
from orderflow.adapters.nats.envelope import (
    SCHEMA,
    BadMessageError,
    EventMessage,
    event_id,
    subject_for,
)
from orderflow.adapters.nats.inprocess import InProcessRunner
from orderflow.adapters.nats.relay import Relay, RelayStats
from orderflow.adapters.nats.subscribers import (
    Handler,
    Outcome,
    Processor,
    Subscriber,
    find,
    import_modules,
    register,
    registered,
)
from orderflow.adapters.settings import Settings

from orderflow.engine import Engine


def subscriber_runner(
    settings: Settings, name: str, engine: Engine | None = None, in_process: bool = False
) -> NatsSubscriberRunner | InProcessRunner:
    """The runner for a registered subscriber: JetStream when nats_url is set, else in-process."""
    subscriber = find(name)
    if settings.nats_url and not in_process:
        return NatsSubscriberRunner(settings, subscriber, engine)
    return InProcessRunner(settings, subscriber, engine)


def run_subscriber(
    settings: Settings, name: str, stop: threading.Event, in_process: bool = False
) -> None:
    """Run a registered subscriber until `stop` is set."""
    subscriber_runner(settings, name, in_process=in_process).run(stop)


__all__ = [
    "SCHEMA",
    "BadMessageError",
    "EventMessage",
    "Handler",
    "InProcessRunner",
    "NatsSubscriberRunner",
    "Outcome",
    "Processor",
    "Relay",
    "RelayStats",
    "Subscriber",
    "event_id",
    "find",
    "import_modules",
    "register",
    "registered",
    "run_subscriber",
    "subject_for",
    "subscriber_runner",
]
