"""Reading the log for the views, fast: plain rows, decoded as the engine's mapper decodes them.

A rebuild reads and decodes every stored event, so the per-event cost of both sets its pace.
- `LogPages` stands in for the engine's recorder where `orderflow.event_log` reads pages
  (`select_notifications`, `max_notification_id`): on PostgreSQL it selects the same rows
  itself, in binary, as plain named tuples (the library builds a dict and a dataclass per row;
  the ids are loaded by psycopg's own loader, in C where psycopg's binary package is installed);
  elsewhere it asks the recorder.
- `EventDecoder` turns a stored event into the domain event the mapper would give, byte for
  byte the same object state, without the mapper's general machinery when the store is plain
  JSON (no cipher, no compression, the library's transcoder); anything else, and anything the
  fast path cannot read, goes through the mapper itself (which also raises its usual errors).
"""

from __future__ import annotations

import functools
import json
import json.scanner
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    InterfaceError,
    JSONTranscoder,
    Mapper,
    OperationalError,
    UUIDAsHex,
    find_id_convertor,
)
from eventsourcing.utils import resolve_topic

RETRIES = 10  # as the library's own select_notifications


class Stored(NamedTuple):
    """A stored event with its position (the attributes of the library's `Notification`)."""

    id: int
    originator_id: Any
    originator_version: int
    topic: str
    state: bytes


class LogPages:
    """Pages of stored events, oldest first: the two recorder methods the log readers use."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        schema = getattr(getattr(recorder, "datastore", None), "schema", None)
        table = getattr(recorder, "events_table_name", None)
        self._postgres = bool(schema and table and hasattr(recorder, "channel_name"))
        self._table = f'"{schema}"."{table}"'

    def max_notification_id(self) -> int | None:
        return self.recorder.max_notification_id()  # type: ignore[no-any-return]

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Any]:
        if not self._postgres:
            return self.recorder.select_notifications(  # type: ignore[no-any-return]
                start, limit, stop, topics, inclusive_of_start=inclusive_of_start
            )
        where: list[str] = []
        params: list[Any] = []
        if start is not None:
            where.append("notification_id >= %s" if inclusive_of_start else "notification_id > %s")
            params.append(start)
        # No upper bound in the query: `stop` is applied to the page here. With one, PostgreSQL
        # may estimate the range small (statistics lag behind a growing log) and read all of
        # it and sort it on disk for every page; without, it walks the index in order.
        if topics:
            where.append("topic = ANY(%s)")
            params.append(list(topics))
        statement = (
            "SELECT notification_id, originator_id, originator_version, topic, state"
            f" FROM {self._table}"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + " ORDER BY notification_id LIMIT %s"
        )
        params.append(limit)
        for attempt in range(RETRIES):
            try:
                rows = self._select(statement, params)
                if stop is not None and rows and rows[-1].id > stop:
                    rows = [row for row in rows if row.id <= stop]
                return rows
            except (InterfaceError, OperationalError):
                if attempt == RETRIES - 1:
                    raise
                time.sleep(0.2)
        raise AssertionError("unreachable")

    def _select(self, statement: str, params: list[Any]) -> list[Stored]:
        with (
            self.recorder.datastore.get_connection() as connection,
            connection.cursor(binary=True, row_factory=_stored_rows) as cursor,
        ):
            cursor.execute(statement, params, prepare=True)
            return cursor.fetchall()  # type: ignore[no-any-return]


_make_stored = functools.partial(tuple.__new__, Stored)  # (Stored._make, without its checks)


def _stored_rows(cursor: Any) -> Callable[[Sequence[Any]], Stored]:
    """A psycopg row factory giving `Stored` rows."""
    return _make_stored


class EventDecoder:
    """Stored events to domain events, as `engine.mapper.to_domain_event` does."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        self.mapper = mapper
        transcoder = mapper.transcoder
        self.fast = (
            mapper.cipher is None
            and mapper.compressor is None
            and type(mapper).to_domain_event is Mapper.to_domain_event
            and isinstance(transcoder, JSONTranscoder)
            and type(transcoder).decode is JSONTranscoder.decode
            and type(transcoder)._decode_obj is JSONTranscoder._decode_obj
        )
        self._classes: dict[str, tuple[type, int, type, Callable[[Any], Any]]] = {}
        if self.fast:
            assert isinstance(transcoder, JSONTranscoder)
            self._types = {name: _decoder_of(t) for name, t in transcoder.names.items()}
            decoder = json.JSONDecoder(object_hook=self._hook)
            self._scan = json.scanner.make_scanner(decoder)  # type: ignore[arg-type]

    def __call__(self, stored: Any) -> Any:
        if self.fast:
            try:
                return self._decode(stored)
            except Exception:  # the mapper decodes it, or raises its own error
                pass
        return self.mapper.to_domain_event(stored)

    def _decode(self, stored: Any) -> Any:
        originator_id = stored.originator_id
        known = self._classes.get(stored.topic)
        if known is None or known[2] is not type(originator_id):
            known = self._learn(stored.topic, type(originator_id))
        cls, class_version, _, convert = known
        text = stored.state.decode("utf8")
        state, end = self._scan(text, 0)
        if end != len(text) or type(state) is not dict:
            raise ValueError("not one JSON object")
        state["originator_id"] = convert(originator_id)
        state["originator_version"] = stored.originator_version
        from_version = state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
            from_version += 1
        event: Any = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event

    def _learn(self, topic: str, id_type: type) -> tuple[type, int, type, Callable[[Any], Any]]:
        cls = resolve_topic(topic)
        known = (cls, getattr(cls, "class_version", 1), id_type, find_id_convertor(cls, id_type))
        self._classes[topic] = known
        return known

    def _hook(self, obj: dict[str, Any]) -> Any:
        if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
            return self._types[obj["_type_"]](obj["_data_"])
        return obj


def _decoder_of(transcoding: Any) -> Callable[[Any], Any]:
    """The library's own transcodings decode with the type's constructor; others as they say."""
    kind = type(transcoding)
    if kind is DatetimeAsISO:
        return _datetime
    if kind is DecimalAsStr:
        return Decimal
    if kind is UUIDAsHex:
        return _uuid
    return transcoding.decode  # type: ignore[no-any-return]


def _datetime(data: str) -> datetime:
    if type(data) is not str:
        raise TypeError("datetime_iso needs a string")
    return datetime.fromisoformat(data)


def _uuid(data: str) -> UUID:
    if type(data) is not str:
        raise TypeError("uuid_hex needs a string")
    return UUID(data)
