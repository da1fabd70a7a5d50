"""The engine's mapper: the library's, with the event timestamp encoded without a callback.

Every domain event carries a `timestamp`; the library's JSON transcoder meets it as an unknown
type and calls back into Python (`default`) to wrap it as `{"_type_": "datetime_iso", "_data_":
...}`. Wrapping it before encoding writes the same bytes at about half the cost per event
(7.4 -> 4.2 us measured for a stock reservation), which is worth having on the write path: a
placed order stores seven events. Anything unusual (a cipher, compression, another transcoder,
another transcoding registered for datetimes) goes the library's way unchanged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent
from eventsourcing.utils import get_topic

DATETIME_ISO = "datetime_iso"  # the library's DatetimeAsISO transcoding


class TimestampMapper(Mapper[UUID]):
    """Mapper whose to_stored_event wraps the event's timestamp itself (same stored bytes)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        transcoder = self.transcoder
        self._plain = (
            not self.compressor
            and not self.cipher
            and isinstance(transcoder, JSONTranscoder)
            and type(transcoder).encode is JSONTranscoder.encode
            and getattr(transcoder.types.get(datetime), "name", None) == DATETIME_ISO
        )

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        if not self._plain:
            return super().to_stored_event(domain_event)
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        timestamp = state.get("timestamp")
        if type(timestamp) is datetime:  # in place: the keys keep their order
            state["timestamp"] = {"_type_": DATETIME_ISO, "_data_": timestamp.isoformat()}
        return StoredEvent(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=get_topic(type(domain_event)),
            state=self.transcoder.encode(state),
        )
