"""The engine's base: one eventsourcing Application owning every aggregate and one event table."""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Iterable, Iterator
from copy import deepcopy
from typing import Any, ClassVar, ParamSpec, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, MutableOrImmutableAggregate
from eventsourcing.persistence import IntegrityError, OperationalError
from eventsourcing.utils import get_topic

from orderflow.errors import ConcurrencyError, NotFoundError
from orderflow.loading import select_events_after, select_latest_snapshots
from orderflow.stock_item import StockItem

P = ParamSpec("P")
R = TypeVar("R")
A = TypeVar("A", bound=Aggregate)

MAX_ATTEMPTS = 30


def retry_on_conflict(method: Callable[P, R]) -> Callable[P, R]:
    """Re-run a load -> change -> save command when a concurrent writer saved first.

    Each attempt reloads every aggregate, so the business checks run again on fresh state and
    nothing partial is ever written. Gives up with ConcurrencyError after MAX_ATTEMPTS.
    """

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return method(*args, **kwargs)
            except IntegrityError:
                pass
            except OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise
            time.sleep(random.uniform(0, 0.002 * min(attempt, 10)))
        raise ConcurrencyError(
            f"{method.__name__}: gave up after {MAX_ATTEMPTS} conflicting attempts; try again"
        )

    return wrapper


class EngineBase(Application[UUID]):
    """Loading, saving and snapshotting shared by every group of engine commands."""

    snapshotting_intervals: ClassVar[dict[type[MutableOrImmutableAggregate[UUID]], int]] = {
        StockItem: 100
    }

    def _load(self, cls: type[A], aggregate_id: UUID, field: str, value: object) -> A:
        """The aggregate, or NotFoundError naming the field the caller gave."""
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFoundError(field, value) from None
        if not isinstance(aggregate, cls):
            raise NotFoundError(field, value)
        return aggregate

    def _load_or_none(self, cls: type[A], aggregate_id: UUID) -> A | None:
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None

    def _load_many(self, ids: Iterable[UUID]) -> dict[UUID, Aggregate]:
        """The aggregates that exist among `ids`, current as of now, read in one or two queries.

        Cached copies are fast-forwarded with one batched query; aggregates not in the cache are
        rebuilt from their latest snapshot (one more query) and put in the cache. Like
        `repository.get`, the caller gets copies it may change freely.
        """
        wanted = list(dict.fromkeys(ids))
        cache = self.repository.cache
        cached: dict[UUID, Aggregate] = {}
        for aggregate_id in wanted:
            try:
                cached[aggregate_id] = cache.get(aggregate_id) if cache else None
            except KeyError:
                pass
        cached = {k: v for k, v in cached.items() if v is not None}
        cold = [i for i in wanted if i not in cached]
        snapshots = select_latest_snapshots(self.snapshots.recorder, cold) if cold and self.snapshots else {}
        after = {i: a.version for i, a in cached.items()}
        after.update({i: snapshots[i].originator_version if i in snapshots else 0 for i in cold})
        new_events = select_events_after(self.recorder, after)
        found: dict[UUID, Aggregate] = {}
        for aggregate_id in wanted:
            aggregate = self._fast_forward(aggregate_id, cached, snapshots, new_events.get(aggregate_id, []))
            if aggregate is not None:
                found[aggregate_id] = deepcopy(aggregate)
        return found

    def _fast_forward(
        self, aggregate_id: UUID, cached: dict[UUID, Aggregate], snapshots: dict[UUID, Any], stored: list[Any]
    ) -> Aggregate | None:
        aggregate: Any = cached.get(aggregate_id)
        if aggregate is None and aggregate_id in snapshots:
            aggregate = self.mapper.to_domain_event(snapshots[aggregate_id]).mutate(None)
        elif aggregate is not None and stored:
            aggregate = deepcopy(aggregate)  # never change the shared cached copy in place
        for event in stored:
            aggregate = self.mapper.to_domain_event(event).mutate(aggregate)
        cache = self.repository.cache
        if aggregate is not None and cache and (stored or aggregate_id not in cached):
            cache.put(aggregate_id, aggregate)
        return cast(Aggregate | None, aggregate)

    def _exists(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self.repository

    def _save(self, *aggregates: Aggregate | None) -> int:
        """Save the aggregates' new events in one transaction; return the last log position."""
        recordings = self.save(*aggregates)
        return recordings[-1].notification.id if recordings else 0

    def position(self) -> int:
        """The position of the newest event in the log (0 when empty)."""
        return self.recorder.max_notification_id() or 0

    def _ids_of(self, *created: type[Any], page: int = 1000) -> Iterator[UUID]:
        """Ids of aggregates whose creation event is one of these classes, oldest first."""
        topics = [get_topic(cls) for cls in created]
        start = 0
        while True:
            batch = self.recorder.select_notifications(
                start=start, limit=page, topics=topics, inclusive_of_start=False
            )
            for notification in batch:
                yield notification.originator_id
            if len(batch) < page:
                return
            start = batch[-1].id

    def _take_snapshots(self, processing_event: Any) -> None:
        """Snapshot from the aggregate in hand instead of reloading it (cheaper in save())."""
        if not self.snapshots:
            return
        crossed: dict[UUID, Aggregate] = {}
        for domain_event in processing_event.events:
            aggregate = processing_event.aggregates.get(domain_event.originator_id)
            interval = self.snapshotting_intervals.get(type(aggregate)) if aggregate else None
            if interval and domain_event.originator_version % interval == 0:
                crossed[domain_event.originator_id] = aggregate
        for aggregate in crossed.values():
            snapshot_class = cast(Any, type(aggregate)).Snapshot
            self.snapshots.put([snapshot_class.take(aggregate)])
