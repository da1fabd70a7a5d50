"""Subscribers on JetStream: one durable pull consumer per subscriber, shared by its instances.

Every instance of `orderflow subscribe NAME` binds to the same durable consumer, so the server
hands each event to one of them. A message is acked only after its handler succeeded (or the
ledger says it already had); a failure is nak'ed with the backoff delay; after the configured
number of attempts the message is published to `<prefix>_dlq.<subscriber>.<aggregate>.<event>`
(stream `<STREAM>_DLQ`) and terminated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from typing import Any

import nats.errors
from eventsourcing.persistence import PersistenceError
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError, BadRequestError
from orderflow.adapters.nats.envelope import H_MSG_ID, BadMessageError, EventMessage
from orderflow.adapters.nats.jetstream import (
    connect_until,
    dead_letter_config,
    dead_letter_prefix,
    ensure_stream,
    require_nats,
    require_shared_store,
    stream_config,
)
from orderflow.adapters.nats.ledger import open_ledger
from orderflow.adapters.nats.subscribers import Outcome, Processor, Subscriber, processor_for
from orderflow.adapters.settings import Settings

from orderflow.engine import Engine
from orderflow.errors import InvalidInputError

log = logging.getLogger("orderflow.streams")

FETCH_BATCH = 20
FETCH_TIMEOUT = 1.0
RETRY_PAUSE = 0.5
H_SUBSCRIBER = "Orderflow-Subscriber"
H_ERROR = "Orderflow-Error"
H_ATTEMPTS = "Orderflow-Attempts"
H_ORIGINAL_SUBJECT = "Orderflow-Original-Subject"
H_STREAM_SEQUENCE = "Orderflow-Stream-Sequence"


def durable_name(subscriber: Subscriber) -> str:
    return f"orderflow-{subscriber.name}"


def consumer_config(settings: Settings, subscriber: Subscriber) -> ConsumerConfig:
    """Explicit acks, redelivery after ack_wait, no server-side cap (the ledger counts attempts)."""
    name = durable_name(subscriber)
    return ConsumerConfig(
        name=name,
        durable_name=name,
        description=subscriber.description or f"orderflow subscriber {subscriber.name}",
        filter_subject=subscriber.filter_subject(settings.subject_prefix),
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.subscriber_ack_wait,
        max_deliver=-1,
        max_ack_pending=1000,
    )


def _one_line(text: str, limit: int = 500) -> str:
    return re.sub(r"[\r\n]+", " ", text)[:limit]


class NatsSubscriberRunner:
    """Runs one subscriber as an instance of its durable JetStream consumer."""

    def __init__(
        self, settings: Settings, subscriber: Subscriber, engine: Engine | None = None
    ) -> None:
        self.settings = settings
        self.url = require_nats(settings)
        require_shared_store(settings, engine)
        self.subscriber = subscriber
        self.engine = engine
        self.handled = 0
        self.dead = 0
        self.consuming = threading.Event()  # set once bound to the durable consumer

    def run(self, stop: threading.Event) -> None:
        """Consume until `stop` is set."""
        asyncio.run(self.run_async(stop))

    async def run_async(self, stop: threading.Event) -> None:
        owned = self.engine is None
        engine = self.engine if self.engine else await asyncio.to_thread(self.settings.open_engine)
        ledger = open_ledger(engine)
        await asyncio.to_thread(ledger.create_tables)
        processor = processor_for(self.subscriber, engine, self.settings, ledger)
        stopping = asyncio.Event()
        watcher = asyncio.get_running_loop().create_task(_mirror(stop, stopping))
        try:
            while not stop.is_set():
                nc = await connect_until(
                    self.url, f"orderflow-{self.subscriber.name}", stopping, reconnect=True
                )
                if nc is None:
                    break
                try:
                    await self._consume(nc.jetstream(), processor, stop)
                except (nats.errors.Error, APIError, OSError, TimeoutError) as error:
                    log.warning(
                        "%s: %s: %s; starting again",
                        self.subscriber.name,
                        type(error).__name__,
                        error,
                    )
                    await asyncio.sleep(RETRY_PAUSE)
                finally:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(nc.close(), 2)
        finally:
            watcher.cancel()
            if owned:
                engine.close()

    async def _consume(
        self, js: JetStreamContext, processor: Processor, stop: threading.Event
    ) -> None:
        stream = self.settings.nats_stream
        await ensure_stream(js, stream_config(self.settings))
        await ensure_stream(js, dead_letter_config(self.settings))
        config = consumer_config(self.settings, self.subscriber)
        try:
            await js.add_consumer(stream, config)
        except BadRequestError as error:  # e.g. a filter the server will not change in place
            raise InvalidInputError(
                "name",
                f"consumer {config.durable_name} on {stream} cannot take the new config "
                f"({error.description}); remove it with `nats consumer rm {stream} "
                f"{config.durable_name}` and start again",
            ) from None
        pull = await js.pull_subscribe_bind(durable=durable_name(self.subscriber), stream=stream)
        self.consuming.set()
        log.info(
            "%s: consuming %s as durable %s",
            self.subscriber.name,
            stream,
            durable_name(self.subscriber),
        )
        while not stop.is_set():
            try:
                messages = await pull.fetch(FETCH_BATCH, timeout=FETCH_TIMEOUT)
            except TimeoutError:  # nats-py raises its own or asyncio's when nothing came
                continue
            await self._handle(js, processor, messages)

    async def _handle(self, js: JetStreamContext, processor: Processor, batch: list[Msg]) -> None:
        """Decode, process the batch in one worker thread, then ack / nak / dead-letter each."""
        msgs, events = [], []
        for msg in batch:
            try:
                events.append(EventMessage.from_json(msg.data))
                msgs.append(msg)
            except BadMessageError as error:
                msg_id = msg.headers.get(H_MSG_ID, "") if msg.headers else ""
                await self._dead_letter(js, msg, msg_id, Outcome("dead", 1, error=str(error)))
                await msg.term()
        try:
            outcomes = await self._process_with_heartbeat(processor, events, msgs)
        except PersistenceError as error:  # the ledger's database is down: try again later
            log.warning("%s: database unavailable (%s)", self.subscriber.name, error)
            for msg in msgs:
                await msg.nak(delay=RETRY_PAUSE * 4)
            return
        for msg, event, outcome in zip(msgs, events, outcomes, strict=True):
            await self._settle(js, processor, msg, event, outcome)

    async def _settle(
        self,
        js: JetStreamContext,
        processor: Processor,
        msg: Msg,
        event: EventMessage,
        outcome: Outcome,
    ) -> None:
        if outcome.kind in ("done", "skipped"):
            self.handled += outcome.kind == "done"
            await msg.ack()
        elif outcome.kind == "retry":
            await msg.nak(delay=outcome.delay)
        else:
            await self._dead_letter(js, msg, str(event.id), outcome)
            await asyncio.to_thread(processor.bury, event, outcome)
            self.dead += 1
            await msg.term()

    async def _process_with_heartbeat(
        self, processor: Processor, events: list[EventMessage], msgs: list[Msg]
    ) -> list[Outcome]:
        """Run the handlers in a thread, telling the server we are still at it (no redelivery)."""
        if not events:
            return []
        work = asyncio.ensure_future(asyncio.to_thread(processor.process_batch, events))
        every = max(self.settings.subscriber_ack_wait / 3, 0.5)
        while True:
            done, _ = await asyncio.wait({work}, timeout=every)
            if done:
                return list(work.result())
            for msg in msgs:
                with contextlib.suppress(Exception):
                    await msg.in_progress()

    async def _dead_letter(
        self, js: JetStreamContext, msg: Msg, event_id: str, outcome: Outcome
    ) -> None:
        """Publish the message as it came, with why it was given up, to the dead-letter subject."""
        prefix = self.settings.subject_prefix
        rest = msg.subject.removeprefix(f"{prefix}.")
        subject = f"{dead_letter_prefix(self.settings)}.{self.subscriber.name}.{rest}"
        headers: dict[str, Any] = dict(msg.headers or {})
        headers.update(
            {
                H_MSG_ID: f"dlq:{self.subscriber.name}:{event_id or msg.metadata.sequence.stream}",
                H_SUBSCRIBER: self.subscriber.name,
                H_ERROR: _one_line(outcome.error),
                H_ATTEMPTS: str(outcome.attempts),
                H_ORIGINAL_SUBJECT: msg.subject,
                H_STREAM_SEQUENCE: str(msg.metadata.sequence.stream),
            }
        )
        await js.publish(subject, msg.data, headers=headers, timeout=5)
        log.error(
            "%s: dead-lettered %s to %s: %s", self.subscriber.name, event_id, subject, outcome.error
        )


async def _mirror(stop: threading.Event, stopping: asyncio.Event) -> None:
    while not stop.is_set():
        await asyncio.sleep(0.1)
    stopping.set()
