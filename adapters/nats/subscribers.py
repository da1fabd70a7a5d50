"""Subscribers: named handlers of events, run from a durable JetStream consumer or in-process.

A handler is a plain function of an `EventMessage`. The framework around it makes it safe:
- each event id is handled to success at most once per subscriber (the ledger in the engine's
  database is checked before and marked after), so redeliveries and replays are skipped;
- a failing event is retried after a backoff, a bounded number of times, counted in the ledger
  (not from the server's delivery count, which nats-server 2.9 sometimes gets wrong), then
  dead-lettered and never tried again;
- a crash between the handler's effect and the ledger mark re-runs the handler once more, so
  effects must be idempotent by key (engine commands here are: same booking, no new event).
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from eventsourcing.utils import get_topic
from orderflow.adapters.nats.envelope import EventMessage, subject_for
from orderflow.adapters.nats.ledger import Attempt, Ledger
from orderflow.adapters.settings import Settings

from orderflow.engine import Engine
from orderflow.errors import InvalidInputError

log = logging.getLogger("orderflow.streams")

Handler = Callable[[EventMessage], None]
HandlerFactory = Callable[[Engine, Settings], Handler]


@dataclass(frozen=True)
class Subscriber:
    """A named reaction to some events: which ones, and how to build the handler."""

    name: str
    build: HandlerFactory
    events: tuple[type[Any], ...] = ()  # event classes; () means every event
    description: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", self.name):
            raise InvalidInputError("name", f"{self.name!r}: use letters, digits, '-' and '_'")

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(get_topic(cls) for cls in self.events)

    def wants(self, message: EventMessage) -> bool:
        return not self.events or message.topic in self.topics

    def filter_subject(self, prefix: str) -> str:
        """One subject filter (nats-server 2.9 ignores several): exact, one aggregate, or all."""
        subjects = {subject_for(prefix, topic) for topic in self.topics}
        if len(subjects) == 1:
            return str(subjects.pop())
        aggregates = {s.split(".")[-2] for s in subjects}
        return f"{prefix}.{aggregates.pop()}.*" if len(aggregates) == 1 else f"{prefix}.>"


_REGISTRY: dict[str, Subscriber] = {}


def register(subscriber: Subscriber) -> Subscriber:
    """Make a subscriber runnable by name (`orderflow subscribe NAME`)."""
    _REGISTRY[subscriber.name] = subscriber
    return subscriber


def registered() -> dict[str, Subscriber]:
    """Every registered subscriber by name (the built-in ones are loaded first)."""
    importlib.import_module("orderflow.adapters.nats.builtin")
    return dict(sorted(_REGISTRY.items()))


def find(name: str) -> Subscriber:
    """The subscriber called `name`, or InvalidInputError listing the known ones."""
    known = registered()
    if name not in known:
        raise InvalidInputError(
            "name", f"no subscriber {name!r} (known: {', '.join(known) or 'none'})"
        )
    return known[name]


def import_modules(modules: Sequence[str]) -> None:
    """Import modules that register more subscribers (a host service's own handlers)."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise InvalidInputError("import", f"cannot import {module!r}: {error}") from None


@dataclass(frozen=True)
class Outcome:
    """What became of one delivery of an event to a handler."""

    kind: Literal["done", "skipped", "retry", "dead"]
    attempts: int = 0
    delay: float = 0.0
    error: str = ""


@dataclass
class Processor:
    """Runs one subscriber's handler on events, with the ledger's bookkeeping around it."""

    subscriber: Subscriber
    handler: Handler
    ledger: Ledger
    max_deliveries: int = 5
    backoff: Sequence[float] = field(default_factory=lambda: [1.0, 5.0, 30.0])

    @property
    def name(self) -> str:
        return self.subscriber.name

    def process(self, message: EventMessage) -> Outcome:
        """Handle the event unless already done; count the attempt; decide retry or dead letter."""
        return self.process_batch([message])[0]

    def process_batch(
        self,
        messages: Sequence[EventMessage],
        done_before: Sequence[str] = (),
        mark_done: bool = True,
        on_begun: Callable[[], None] | None = None,
    ) -> list[Outcome]:
        """The same for a batch, in order, with one ledger write before and one after.

        `done_before`: ids of an earlier batch whose handlers succeeded and are not marked yet;
        they are marked in the same write that counts this batch's attempts (and `on_begun` is
        called once it is committed). `mark_done=False` leaves this batch's successes (the
        "done" outcomes) for the caller to mark, here or as a later batch's `done_before`.
        """
        wanted = [m for m in messages if self.subscriber.wants(m)]
        events = [(str(m.id), m.position) for m in wanted]
        attempts = self.ledger.begin(self.name, events, done=done_before)
        if on_begun is not None:
            on_begun()
        outcomes = [self._attempt(m, attempts.get(str(m.id))) for m in messages]
        if mark_done:
            self.ledger.done(self.name, done_ids(messages, outcomes))
        return outcomes

    def _attempt(self, message: EventMessage, attempt: Attempt | None) -> Outcome:
        if attempt is None or attempt.status != "pending":
            return Outcome("skipped", attempt.attempts if attempt else 0)
        if attempt.attempts > self.max_deliveries:
            error = attempt.error or "the handler never finished (process crashed or timed out)"
            return Outcome("dead", attempt.attempts - 1, error=error)
        try:
            self.handler(message)
        except Exception as exc:
            return self._failed(message, attempt.attempts, f"{type(exc).__name__}: {exc}")
        return Outcome("done", attempt.attempts)

    def _failed(self, message: EventMessage, attempts: int, error: str) -> Outcome:
        log.warning(
            "%s: %s %s failed (attempt %d): %s",
            self.name,
            message.type,
            message.id,
            attempts,
            error,
        )
        if attempts >= self.max_deliveries:
            return Outcome("dead", attempts, error=error)
        self.ledger.fail(self.name, str(message.id), error)
        return Outcome("retry", attempts, self.delay(attempts), error)

    def delay(self, attempts: int) -> float:
        """Seconds before retry number `attempts` (the last backoff value repeats)."""
        if not self.backoff:
            return 0.0
        return max(0.0, float(self.backoff[min(attempts, len(self.backoff)) - 1]))

    def bury(self, message: EventMessage, outcome: Outcome) -> None:
        """Record that the event was given up on (after it reached the dead-letter subject)."""
        self.ledger.finish(self.name, str(message.id), "dead", outcome.error)
        log.error(
            "%s: gave up on %s %s after %d attempts: %s",
            self.name,
            message.type,
            message.id,
            outcome.attempts,
            outcome.error,
        )


def done_ids(messages: Sequence[EventMessage], outcomes: Sequence[Outcome]) -> list[str]:
    """The ids of the messages whose handler succeeded."""
    return [str(m.id) for m, o in zip(messages, outcomes, strict=True) if o.kind == "done"]


def processor_for(
    subscriber: Subscriber, engine: Engine, settings: Settings, ledger: Ledger
) -> Processor:
    return Processor(
        subscriber,
        subscriber.build(engine, settings),
        ledger,
        max_deliveries=settings.subscriber_max_deliveries,
        backoff=list(settings.subscriber_backoff),
    )
