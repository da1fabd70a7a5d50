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
import functools
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import nats.errors
from eventsourcing.persistence import PersistenceError
from nats.aio.client import Client as NATS
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

PULL_BATCH = 50  # messages one pull request asks for; a batch handed to handlers is what has come
PULL_EXPIRES = 5.0  # seconds a pull request waits at the server
WAIT = 1.0  # seconds the consumer waits for a message before looking at `stop` again
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


class Puller:
    """Messages of a durable pull consumer, handed over as soon as they arrive.

    nats-py's `fetch(n)`, once the first message is there, waits for the other n - 1 until its
    timeout: at a few hundred events/s that held each batch's first message for tens of
    milliseconds, and up to the whole timeout when traffic is light. Here pull requests for up
    to PULL_BATCH messages are kept open at the server (topped up when fewer than half remain,
    renewed when they expire) and `take` returns whatever has arrived, at once.
    """

    def __init__(self, nc: NATS, stream: str, durable: str, batch: int = PULL_BATCH) -> None:
        self.nc = nc
        self.subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self.batch = batch
        self.inbox = nc.new_inbox()
        self.arrived: deque[Msg] = deque()
        self.event = asyncio.Event()
        self.requests: deque[list[float]] = deque()  # [messages still to come, expires at]
        self.reconnects = -1
        self.failure = ""

    async def start(self) -> None:
        await self.nc.subscribe(self.inbox, cb=self._arrive)

    async def _arrive(self, msg: Msg) -> None:
        status = msg.headers.get("Status") if msg.headers else None
        if status is None:
            self.arrived.append(msg)
            self.event.set()
            if self.requests:
                self.requests[0][0] -= 1
                if self.requests[0][0] <= 0:
                    self.requests.popleft()
        elif status != "100":  # 404 / 408: a request ended; 409: refused or the consumer went
            if self.requests:
                self.requests.popleft()
            description = msg.headers.get("Description", "") if msg.headers else ""
            if status == "409" and "deleted" in description.lower():
                self.failure = f"consumer {description}"
            self.event.set()

    async def _top_up(self) -> None:
        now = time.monotonic()
        reconnects = self.nc.stats["reconnects"]
        if reconnects != self.reconnects:  # the server forgot our requests with the connection
            self.reconnects = reconnects
            self.requests.clear()
        while self.requests and self.requests[0][1] + 1.0 < now:  # expired, its 408 lost
            self.requests.popleft()
        wanted = sum(r[0] for r in self.requests)
        if wanted + len(self.arrived) <= self.batch // 2:
            request = {"batch": self.batch, "expires": int(PULL_EXPIRES * 1e9)}
            await self.nc.publish(self.subject, json.dumps(request).encode(), reply=self.inbox)
            self.requests.append([self.batch, now + PULL_EXPIRES])

    async def take(self, timeout: float) -> list[Msg]:
        """Every message that has arrived, waiting up to `timeout` for the first."""
        if self.failure:
            raise nats.errors.Error(self.failure)
        await self._top_up()
        if not self.arrived:
            self.event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.event.wait(), timeout)
        taken = list(self.arrived)
        self.arrived.clear()
        return taken

    def waiting(self) -> list[Msg]:
        """Messages delivered to this instance and not taken yet."""
        return list(self.arrived)


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
                    await self._consume(nc, processor, stop)
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
            ledger.close()
            if owned:
                engine.close()

    async def _consume(self, nc: NATS, processor: Processor, stop: threading.Event) -> None:
        js = nc.jetstream()
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
        puller = Puller(nc, stream, durable_name(self.subscriber))
        await puller.start()
        self.consuming.set()
        log.info(
            "%s: consuming %s as durable %s",
            self.subscriber.name,
            stream,
            durable_name(self.subscriber),
        )
        self._unmarked: list[tuple[Msg, str]] = []
        try:
            while not stop.is_set():
                messages = await puller.take(WAIT)
                if messages:
                    await self._handle(js, processor, messages, puller)
                if self._unmarked and not puller.waiting():
                    await self._mark_unmarked(processor)
        finally:
            with contextlib.suppress(Exception):
                await self._mark_unmarked(processor)
            for msg in puller.waiting():  # delivered here but not handled: to another instance
                with contextlib.suppress(Exception):
                    await msg.nak()

    async def _handle(
        self, js: JetStreamContext, processor: Processor, batch: list[Msg], puller: Puller
    ) -> None:
        """Decode, process the batch in one worker thread, then ack / nak / dead-letter each.

        The successes of the previous batch, when it was followed at once by this one, are
        marked done in the same ledger write that counts this batch's attempts, and acked as
        soon as that is committed (before this batch's handlers run): one write per batch
        instead of two while events keep coming. An idle consumer marks them at once.
        """
        msgs, events = [], []
        for msg in batch:
            try:
                events.append(EventMessage.from_json(msg.data))
                msgs.append(msg)
            except BadMessageError as error:
                msg_id = msg.headers.get(H_MSG_ID, "") if msg.headers else ""
                await self._dead_letter(js, msg, msg_id, Outcome("dead", 1, error=str(error)))
                await msg.term()
        if not events:
            return
        previous, self._unmarked = self._unmarked, []
        begun = asyncio.Event()
        loop = asyncio.get_running_loop()
        work = functools.partial(
            processor.process_batch,
            events,
            done_before=[event_id for _, event_id in previous],
            mark_done=False,
            on_begun=lambda: loop.call_soon_threadsafe(begun.set),
        )
        try:
            outcomes = await self._process_with_heartbeat(work, msgs, puller, previous, begun)
        except PersistenceError as error:  # the ledger's database is down: try again later
            log.warning("%s: database unavailable (%s)", self.subscriber.name, error)
            for msg in msgs + [msg for msg, _ in previous if not begun.is_set()]:
                await msg.nak(delay=RETRY_PAUSE * 4)
            return
        for msg, event, outcome in zip(msgs, events, outcomes, strict=True):
            await self._settle(js, processor, msg, event, outcome)

    async def _mark_unmarked(self, processor: Processor) -> None:
        """Mark the successes waiting for the next batch done now, then ack them."""
        unmarked, self._unmarked = self._unmarked, []
        if not unmarked:
            return
        try:
            ids = [event_id for _, event_id in unmarked]
            await asyncio.to_thread(processor.ledger.done, processor.name, ids)
        except PersistenceError as error:
            log.warning("%s: database unavailable (%s)", self.subscriber.name, error)
            for msg, _ in unmarked:  # redelivered; the ledger still says pending
                await msg.nak(delay=RETRY_PAUSE * 4)
            return
        for msg, _ in unmarked:
            await msg.ack()

    async def _settle(
        self,
        js: JetStreamContext,
        processor: Processor,
        msg: Msg,
        event: EventMessage,
        outcome: Outcome,
    ) -> None:
        if outcome.kind == "done":  # acked once marked done in the ledger
            self.handled += 1
            self._unmarked.append((msg, str(event.id)))
        elif outcome.kind == "skipped":
            await msg.ack()
        elif outcome.kind == "retry":
            await msg.nak(delay=outcome.delay)
        else:
            await self._dead_letter(js, msg, str(event.id), outcome)
            await asyncio.to_thread(processor.bury, event, outcome)
            self.dead += 1
            await msg.term()

    async def _process_with_heartbeat(
        self,
        work: Callable[[], list[Outcome]],
        msgs: list[Msg],
        puller: Puller,
        previous: list[tuple[Msg, str]],
        begun: asyncio.Event,
    ) -> list[Outcome]:
        """Run the handlers in a thread, telling the server we are still at it (no redelivery)
        for these messages and the ones that arrive meanwhile; ack the previous batch's as soon
        as `begun` says their done marks are committed."""
        running = asyncio.ensure_future(asyncio.to_thread(work))
        marked = asyncio.ensure_future(begun.wait())
        to_ack = [msg for msg, _ in previous]
        every = max(self.settings.subscriber_ack_wait / 3, 0.5)
        try:
            while True:
                waits = {running, marked} if to_ack else {running}
                await asyncio.wait(waits, timeout=every, return_when=asyncio.FIRST_COMPLETED)
                if to_ack and begun.is_set():
                    for msg in to_ack:
                        await msg.ack()
                    to_ack = []
                if running.done():
                    return list(running.result())
                for msg in msgs + puller.waiting() + to_ack:
                    with contextlib.suppress(Exception):
                        await msg.in_progress()
        finally:
            marked.cancel()

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
