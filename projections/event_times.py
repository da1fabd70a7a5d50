"""The time index of the log: which positions hold the events of a period.

The library keeps an event's timestamp inside its encoded state; without an index, "the
events of last Tuesday" would mean decoding the whole log. Timestamps follow positions closely
(not exactly: writers in several processes commit in their own order), so a sparse index is
enough: for each block of BLOCK positions, the first and last position and the earliest and
latest time in it. A period maps to the blocks that overlap it, and only their events are
decoded and checked one by one.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from orderflow.projections.sql import Sql, Table
from orderflow.projections.view import Batch, Event, View, micros

BLOCK = 256


@dataclass(frozen=True)
class TimeRange:
    """`first`..`last` hold the period's events up to position `indexed`; after it, look at each."""

    first: int | None
    last: int | None
    indexed: int


class EventTimes(View):
    """Earliest and latest event time per block of positions."""

    name = "event_times"
    title = "time index of the event log"
    tables = (
        Table(
            "blocks",
            "block int, first_pos int, last_pos int, first_us int, last_us int",
            key="block",
            indexes=("last_us",),
        ),
    )
    every_event = True  # (prepare is its own: no per-event handler)

    def prepare(self, events: Sequence[tuple[int, Event]], sql: Sql | None = None) -> Batch:
        """One row change per block, from the batch's slice of it: this view sees every event,
        and the events come in order of position."""
        batch = Batch(self, sql)
        batch.first = events[0][0] if events else 0
        positions = [position for position, _ in events]
        times = [event.timestamp for _, event in events]
        start = 0
        while start < len(positions):
            block = positions[start] // BLOCK
            end = bisect.bisect_left(positions, (block + 1) * BLOCK, start)
            earliest, latest = min(times[start:end]), max(times[start:end])
            batch.least(
                "blocks", block=block, first_pos=positions[start], first_us=micros(earliest)
            )
            batch.greatest(
                "blocks", block=block, last_pos=positions[end - 1], last_us=micros(latest)
            )
            start = end
        return batch

    def time_range(self, since: datetime | None, before: datetime | None) -> TimeRange:
        """Where events with since <= time < before lie in the indexed part of the log."""
        low = micros(since) if since else -(2**62)
        high = micros(before) if before else 2**62
        query = (
            "SELECT MIN(first_pos), MAX(last_pos) FROM {blocks} WHERE last_us >= ? AND first_us < ?"
        )
        with self.store.reading() as sql:
            indexed = self.store.read_position(sql)
            row = sql.one(self.store.render(query), (low, high))
        first, last = row if row else (None, None)
        return TimeRange(
            None if first is None else int(first), None if last is None else int(last), indexed
        )
