"""The time index of the log: when each event happened, so audits by time read only that range.

The library keeps an event's timestamp inside its encoded state; without this index, "the
events of last Tuesday" would mean decoding the whole log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from orderflow.projections.sql import Table
from orderflow.projections.view import Batch, Event, View, micros


class EventTimes(View):
    """Position -> timestamp of every event."""

    name = "event_times"
    title = "time index of the event log"
    tables = (Table("events", "pos int, at_us int", key="pos", indexes=("at_us",)),)
    every_event = True

    def on_any(self, batch: Batch, event: Event) -> None:
        batch.append("events", pos=batch.position, at_us=event.timestamp)

    def time_range(self, since: datetime | None, before: datetime | None) -> TimeRange:
        """Where events with since <= time < before lie in the indexed part of the log."""
        low = micros(since) if since else -(2**62)
        high = micros(before) if before else 2**62
        query = "SELECT MIN(pos), MAX(pos) FROM {events} WHERE at_us >= ? AND at_us < ?"
        with self.store.reading() as sql:
            indexed = self.store.read_position(sql)
            row = sql.one(self.store.render(query), (low, high))
        first, last = row if row else (None, None)
        return TimeRange(
            None if first is None else int(first), None if last is None else int(last), indexed
        )


@dataclass(frozen=True)
class TimeRange:
    """Positions `first`..`last` hold the matching events up to `indexed`; after it, look at each."""

    first: int | None
    last: int | None
    indexed: int
