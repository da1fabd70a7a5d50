"""Subscribers: durable JetStream consumers and the in-process runner, with their ledger."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
from orderflow.adapters.nats import (
    EventMessage,
    InProcessRunner,
    NatsSubscriberRunner,
    Processor,
    Subscriber,
    register,
)
from orderflow.adapters.nats.ledger import Attempt, MemoryLedger, open_ledger
from orderflow.adapters.settings import Settings

from orderflow.engine import Engine
from orderflow.stock_item import StockItem
from tests.integration.streams_helpers import (
    delete_streams,
    owner_engine,
    receive_many,
    relay_thread,
    running,
    seed_catalogue,
    stream_count,
    stream_messages,
    unique_settings,
    wait_until,
)


class Recorder:
    """A test handler: records every call; fails for receipts whose reference is POISON."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[tuple[str, uuid.UUID]] = []
        self.lock = threading.Lock()
        self.delay = delay

    def handler(self, instance: str = "") -> object:
        def handle(message: EventMessage) -> None:
            with self.lock:
                self.calls.append((instance, message.id))
            time.sleep(self.delay)
            if message.data.get("reference") == "POISON":
                raise ValueError("cannot handle a poisoned receipt")

        return handle

    def count(self) -> Counter[uuid.UUID]:
        with self.lock:
            return Counter(event_id for _, event_id in self.calls)


def subscriber_for(recorder: Recorder, instance: str = "") -> Subscriber:
    name = f"test-{uuid.uuid4().hex[:8]}"
    return register(
        Subscriber(name, lambda e, s: recorder.handler(instance), (StockItem.Received,))
    )  # type: ignore[arg-type, return-value]


def received_ids(engine: Engine) -> set[uuid.UUID]:
    log = engine.recorder.select_notifications(start=None, limit=100_000)
    return {
        EventMessage.from_notification(engine, n).id
        for n in log
        if n.topic.endswith("StockItem.Received")
    }


@pytest.fixture
def settings(store_url: str, nats_server_url: str, run_id: str) -> Iterator[Settings]:
    s = unique_settings(
        store_url,
        nats_server_url,
        run_id,
        subscriber_max_deliveries=3,
        subscriber_backoff=[0.05, 0.1],
    )
    yield s
    delete_streams(s)


@pytest.fixture
def seeded(settings: Settings) -> Iterator[Engine]:
    engine = owner_engine(settings)
    seed_catalogue(engine)
    yield engine
    engine.close()


def test_a_subscriber_handles_each_relayed_event_once_and_acks_it(
    settings: Settings, seeded: Engine
) -> None:
    recorder = Recorder()
    subscriber = subscriber_for(recorder)
    receive_many(seeded, 9)
    runner = NatsSubscriberRunner(settings, subscriber)
    with relay_thread(settings), running(runner.run):
        wait_until(lambda: len(recorder.count()) == 9, 15, "9 receipts handled")
        receive_many(seeded, 3)
        wait_until(lambda: len(recorder.count()) == 12, 15, "3 live receipts handled")
        time.sleep(0.3)
    assert set(recorder.count()) == received_ids(seeded)
    assert max(recorder.count().values()) == 1
    assert runner.handled == 12 and runner.dead == 0


def test_a_poison_event_ends_on_the_dead_letter_subject_after_the_configured_deliveries(
    settings: Settings, seeded: Engine
) -> None:
    recorder = Recorder()
    subscriber = subscriber_for(recorder)
    receive_many(seeded, 2)
    seeded.receive_stock("A", "HN", 1, reference="POISON")
    receive_many(seeded, 2)
    runner = NatsSubscriberRunner(settings, subscriber)
    dlq = f"{settings.nats_stream}_DLQ"
    with relay_thread(settings), running(runner.run):
        wait_until(
            lambda: stream_count(settings, dlq) == 1,
            15,
            "the poison event on the dead-letter subject",
        )
        wait_until(lambda: len(recorder.count()) == 5, 10, "the other receipts handled")
        time.sleep(0.5)  # a further redelivery would show up here
    [dead] = stream_messages(settings, dlq)
    assert dead.subject == f"{settings.subject_prefix}_dlq.{subscriber.name}.stockitem.received"
    assert dead.event.data["reference"] == "POISON"
    assert dead.headers["Orderflow-Attempts"] == "3"
    assert "cannot handle a poisoned receipt" in dead.headers["Orderflow-Error"]
    assert recorder.count()[dead.event.id] == 3, "one delivery per configured attempt, then no more"
    assert all(n == 1 for event_id, n in recorder.count().items() if event_id != dead.event.id)
    [letter] = open_ledger(seeded).dead_letters(subscriber.name)
    assert letter.event_id == str(dead.event.id) and letter.attempts == 3


def test_two_instances_of_one_subscriber_share_the_work_and_handle_each_event_once(
    settings: Settings, seeded: Engine
) -> None:
    recorder = Recorder(delay=0.01)
    name = f"test-{uuid.uuid4().hex[:8]}"
    one = Subscriber(name, lambda e, s: recorder.handler("one"), (StockItem.Received,))  # type: ignore[arg-type, return-value]
    two = Subscriber(name, lambda e, s: recorder.handler("two"), (StockItem.Received,))  # type: ignore[arg-type, return-value]
    engine_two = owner_engine(settings)
    first = NatsSubscriberRunner(settings, one)
    second = NatsSubscriberRunner(settings, two, engine_two)
    try:
        with running(first.run), running(second.run):
            wait_until(
                lambda: first.consuming.is_set() and second.consuming.is_set(),
                15,
                "both instances bound to the durable consumer",
            )
            receive_many(seeded, 100)
            with relay_thread(settings):
                wait_until(lambda: len(recorder.count()) == 100, 30, "100 receipts handled")
                time.sleep(0.3)
    finally:
        engine_two.close()
    assert set(recorder.count()) == received_ids(seeded)
    assert max(recorder.count().values()) == 1, "no event handled twice"
    by_instance = Counter(instance for instance, _ in recorder.calls)
    assert by_instance["one"] > 0 and by_instance["two"] > 0, by_instance


def test_without_nats_the_same_handler_runs_in_process_once_per_event_across_restarts(
    store_url: str,
) -> None:
    settings = unique_settings(
        store_url, "", "inproc", subscriber_max_deliveries=2, subscriber_backoff=[0.05]
    )
    settings = settings.model_copy(update={"nats_url": None})
    engine = owner_engine(settings)
    seed_catalogue(engine)
    recorder = Recorder()
    subscriber = subscriber_for(recorder)
    receive_many(engine, 5)
    engine.receive_stock("B", "HN", 1, reference="POISON")
    runner = InProcessRunner(settings, subscriber)
    with running(runner.run):
        wait_until(lambda: len(recorder.count()) == 6, 10, "the backlog handled")
        receive_many(engine, 3)
        wait_until(lambda: len(recorder.count()) == 9, 10, "live events handled")
    assert runner.handled == 8 and runner.dead == 1
    receive_many(engine, 2)
    again = InProcessRunner(settings, subscriber)
    with running(again.run):
        wait_until(lambda: len(recorder.count()) == 11, 10, "events written while stopped handled")
        time.sleep(0.3)
    assert again.handled == 2, "a restarted runner resumes after the last event it finished"
    counts = recorder.count()
    assert set(counts) == received_ids(engine)
    poison = [event_id for event_id, n in counts.items() if n > 1]
    assert len(poison) == 1 and counts[poison[0]] == 2, (
        "the poison event tried max_deliveries times"
    )
    assert [d.event_id for d in open_ledger(engine).dead_letters(subscriber.name)] == [
        str(poison[0])
    ]
    engine.close()


def test_an_event_already_handled_is_skipped_when_delivered_again() -> None:
    recorder = Recorder()
    subscriber = Subscriber("skip-test", lambda e, s: recorder.handler(), (StockItem.Received,))  # type: ignore[arg-type, return-value]
    processor = Processor(subscriber, recorder.handler(), MemoryLedger(), max_deliveries=3)  # type: ignore[arg-type]
    message = _received_message()
    assert processor.process(message).kind == "done"
    assert processor.process(message).kind == "skipped"
    assert len(recorder.calls) == 1


def test_an_event_whose_handler_never_finishes_is_given_up_after_max_deliveries() -> None:
    recorder = Recorder()
    subscriber = Subscriber("crash-test", lambda e, s: recorder.handler(), (StockItem.Received,))  # type: ignore[arg-type, return-value]
    ledger = MemoryLedger()
    processor = Processor(subscriber, recorder.handler(), ledger, max_deliveries=3)  # type: ignore[arg-type]
    message = _received_message()
    for _ in range(3):  # three deliveries whose process died inside the handler
        ledger.begin(subscriber.name, [(str(message.id), message.position)])
    outcome = processor.process(message)
    assert outcome.kind == "dead" and "never finished" in outcome.error
    assert recorder.calls == []


def _received_message() -> EventMessage:
    from datetime import UTC, datetime

    from eventsourcing.utils import get_topic

    return EventMessage(
        id=uuid.uuid4(),
        type="StockItem.Received",
        topic=get_topic(StockItem.Received),
        aggregate_id=uuid.uuid4(),
        version=2,
        position=7,
        timestamp=datetime.now(UTC),
        data={"quantity": 1, "reason": "purchase_receipt", "reference": ""},
    )


def test_a_batch_marks_the_previous_batchs_successes_done_in_the_same_ledger_write(
    engine: Engine,
) -> None:
    """A NATS subscriber marks a batch's successes done together with the next batch's attempts;
    a copy of such an event in that next batch is seen as done (skipped), never handled twice."""
    recorder = Recorder()
    subscriber = Subscriber("merge-test", lambda e, s: recorder.handler(), (StockItem.Received,))  # type: ignore[arg-type, return-value]
    ledger = open_ledger(engine)
    ledger.create_tables()
    processor = Processor(subscriber, recorder.handler(), ledger, max_deliveries=3)  # type: ignore[arg-type]
    first, second = _received_message(), _received_message()
    begun: list[bool] = []
    outcomes = processor.process_batch([first], mark_done=False)
    assert [o.kind for o in outcomes] == ["done"]
    assert ledger.begin("merge-test", [(str(first.id), first.position)]) == {
        str(first.id): Attempt("pending", 2)  # not marked yet: a crash now would handle it again
    }
    outcomes = processor.process_batch(
        [first, second],
        done_before=[str(first.id)],
        mark_done=False,
        on_begun=lambda: begun.append(True),
    )
    assert [o.kind for o in outcomes] == ["skipped", "done"]
    assert begun == [True]
    assert recorder.count() == Counter({first.id: 1, second.id: 1})
    ledger.done("merge-test", [str(second.id)])
    again = ledger.begin("merge-test", [(str(first.id), 7), (str(second.id), 7)])
    assert {k: a.status for k, a in again.items()} == {
        str(first.id): "done",
        str(second.id): "done",
    }
    ledger.close()
