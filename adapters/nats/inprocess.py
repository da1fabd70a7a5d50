"""Subscribers without NATS: the same handlers, fed straight from the event log in order.

This is the embedded default (SQLite, no server). One instance per subscriber and store is
active at a time (the same locks as the relay); it resumes after the last event it finished and
skips what the ledger says is done, so each event's handler succeeds at most once.
"""

from __future__ import annotations

import logging
import threading

from eventsourcing.persistence import PersistenceError
from orderflow.adapters.nats.envelope import EventMessage
from orderflow.adapters.nats.jetstream import require_shared_store
from orderflow.adapters.nats.ledger import open_ledger
from orderflow.adapters.nats.locks import (
    LockLostError,
    PgListener,
    StoreLock,
    acquire,
    follow_options,
    store_lock,
)
from orderflow.adapters.nats.subscribers import Processor, Subscriber, processor_for
from orderflow.adapters.settings import Settings

from orderflow.engine import Engine
from orderflow.event_log import follow_log

log = logging.getLogger("orderflow.streams")

RETRY_PAUSE = 0.5


class InProcessRunner:
    """Runs one subscriber from the engine's event log until stopped."""

    def __init__(
        self, settings: Settings, subscriber: Subscriber, engine: Engine | None = None
    ) -> None:
        require_shared_store(settings, engine)
        self.settings = settings
        self.subscriber = subscriber
        self.engine = engine
        self.handled = 0  # events whose handler succeeded in this run
        self.dead = 0

    def run(self, stop: threading.Event) -> None:
        """Follow the log and handle events until `stop` is set."""
        owned = self.engine is None
        engine = self.engine if self.engine else self.settings.open_engine()
        config = self.settings.store_config()
        lock = store_lock(config, f"subscriber:{self.subscriber.name}")
        channel = getattr(engine.recorder, "channel_name", None)
        listener = PgListener(config, channel) if config.backend == "postgres" and channel else None
        try:
            while not stop.is_set():
                if not acquire(lock, stop, 0.5, f"subscriber {self.subscriber.name}"):
                    break
                try:
                    self._run_holding_lock(engine, lock, stop, listener)
                except LockLostError as error:
                    log.warning("%s: %s", self.subscriber.name, error)
                finally:
                    lock.release()
        finally:
            if listener is not None:
                listener.close()
            if owned:
                engine.close()

    def _run_holding_lock(
        self, engine: Engine, lock: StoreLock, stop: threading.Event, wait: PgListener | None
    ) -> None:
        ledger = open_ledger(engine)
        processor = processor_for(self.subscriber, engine, self.settings, ledger)
        try:
            while not stop.is_set():
                try:
                    ledger.create_tables()
                    after = ledger.resume_position(self.subscriber.name)
                    log.info(
                        "%s: handling events in-process after position %d",
                        self.subscriber.name,
                        after,
                    )
                    events = follow_log(
                        engine.recorder, after, stop, self.subscriber.topics, **follow_options(wait)
                    )
                    for notification in events:
                        lock.check()
                        self._handle(
                            processor, EventMessage.from_notification(engine, notification), stop
                        )
                except PersistenceError as error:
                    log.warning(
                        "%s: database unavailable (%s); retrying", self.subscriber.name, error
                    )
                    stop.wait(RETRY_PAUSE)
        finally:
            ledger.close()

    def _handle(self, processor: Processor, message: EventMessage, stop: threading.Event) -> None:
        while not stop.is_set():
            outcome = processor.process(message)
            if outcome.kind == "retry":
                stop.wait(outcome.delay)
                continue
            if outcome.kind == "dead":
                processor.bury(message, outcome)
                self.dead += 1
            elif outcome.kind == "done":
                self.handled += 1
            return
