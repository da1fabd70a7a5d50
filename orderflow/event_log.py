"""Reading the event log in order: a bounded streaming replay, and a live tail.

The projections, the NATS relay, in-process subscribers and the audit CLI all read the log through
these two functions, so paging, gaps in positions and stopping work the same everywhere.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence

from eventsourcing.persistence import ApplicationRecorder, Notification

PAGE = 500

Waiter = Callable[[float], None]
"""Blocks until new events may have arrived or the timeout passed (e.g. PostgreSQL LISTEN)."""


def read_log(
    recorder: ApplicationRecorder,
    after: int = 0,
    until: int | None = None,
    topics: Sequence[str] = (),
    page: int = PAGE,
) -> Iterator[Notification]:
    """Stored events with after < position <= until, oldest first, one page in memory at a time.

    `until` defaults to the newest position when the call starts, so a live system cannot make
    a replay run forever. Positions may have gaps; only "last seen" is ever tracked.
    """
    end = (recorder.max_notification_id() or 0) if until is None else until
    position = after
    while position < end:
        batch = recorder.select_notifications(
            start=position, limit=page, stop=end, topics=list(topics), inclusive_of_start=False
        )
        if not batch:
            return
        yield from batch
        position = batch[-1].id


def sleeper(stop: threading.Event) -> Waiter:
    """A waiter that just sleeps (polling), waking early when `stop` is set."""

    def wait(timeout: float) -> None:
        stop.wait(timeout)

    return wait


def follow_log(
    recorder: ApplicationRecorder,
    after: int,
    stop: threading.Event,
    topics: Sequence[str] = (),
    wait: Waiter | None = None,
    idle_timeout: float = 0.05,
    max_idle_timeout: float = 0.5,
    page: int = PAGE,
) -> Iterator[Notification]:
    """Events after `after`, forever (until `stop` is set): catch up, then poll with backoff."""
    wait = wait or sleeper(stop)
    position = after
    timeout = idle_timeout
    while not stop.is_set():
        batch = recorder.select_notifications(
            start=position, limit=page, topics=list(topics), inclusive_of_start=False
        )
        if batch:
            timeout = idle_timeout
            for notification in batch:
                yield notification
                position = notification.id
                if stop.is_set():
                    return
            continue
        wait(timeout)
        timeout = min(timeout * 2, max_idle_timeout)
