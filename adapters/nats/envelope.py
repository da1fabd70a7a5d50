"""The public form of a stored event: subject, headers and a versioned JSON body.

The same `EventMessage` reaches a handler whether it came over NATS or straight from the event
log in-process, so handlers never see eventsourcing objects. Pure: no nats or database imports.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from functools import cached_property
from hashlib import sha1
from typing import Any, NamedTuple
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Mapper, Notification
from eventsourcing.utils import resolve_topic

from orderflow.mapping import TimestampMapper
from orderflow.values import name_based_id

SCHEMA = "orderflow.event/1"
EVENT_NAMESPACE = uuid5(NAMESPACE_URL, "orderflow:event")
ENVELOPE_FIELDS = ("originator_id", "originator_version", "timestamp", "originator_topic")

H_MSG_ID = "Nats-Msg-Id"
H_SCHEMA = "Orderflow-Schema"
H_EVENT_ID = "Orderflow-Event-Id"
H_TYPE = "Orderflow-Event-Type"
H_TOPIC = "Orderflow-Topic"
H_AGGREGATE_ID = "Orderflow-Aggregate-Id"
H_VERSION = "Orderflow-Version"
H_POSITION = "Orderflow-Position"
H_TIMESTAMP = "Orderflow-Timestamp"

_TOKEN = re.compile(r"[^a-z0-9_-]")
_PLAIN = (str, int, float, bool)


class BadMessageError(ValueError):
    """A message body that is not an orderflow event of a schema this code reads."""


def event_id(aggregate_id: UUID, version: int) -> UUID:
    """The event's unique, deterministic id: the same for every relay run and every rebuild."""
    return name_based_id(EVENT_NAMESPACE, f"{aggregate_id}/{version}")


_NAMESPACE_BYTES = EVENT_NAMESPACE.bytes


def event_id_text(aggregate_id: str, version: int) -> str:
    """str(event_id(...)) without the UUID objects: the relay makes one per event."""
    digest = bytearray(sha1(_NAMESPACE_BYTES + f"{aggregate_id}/{version}".encode()).digest())
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def event_type(topic: str) -> str:
    """'orderflow.stock_item:StockItem.Reserved' -> 'StockItem.Reserved'."""
    return topic.rpartition(":")[2]


def subject_for(prefix: str, topic: str) -> str:
    """'<prefix>.<aggregate>.<event>' in lower case: 'orderflow.stockitem.reserved'."""
    module, _, qualname = topic.rpartition(":")
    parts = qualname.split(".")
    aggregate = parts[0] if len(parts) > 1 else module.rpartition(".")[2]
    return f"{prefix}.{_token(aggregate)}.{_token(parts[-1])}"


def _token(name: str) -> str:
    return _TOKEN.sub("_", name.lower()) or "_"


def jsonable(value: Any) -> Any:
    """Event attribute values as JSON: Decimals, UUIDs and dates as strings, enums as values."""
    if value is None or type(value) in _PLAIN:
        return value
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class EventMessage:
    """One event as subscribers see it (the body schema `orderflow.event/1`)."""

    id: UUID
    type: str
    topic: str
    aggregate_id: UUID
    version: int
    position: int
    timestamp: datetime
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, position: int, topic: str, domain_event: Any) -> EventMessage:
        """The message for a decoded domain event stored at `position`."""
        aggregate_id = domain_event.originator_id
        version = domain_event.originator_version
        attributes = {k: v for k, v in vars(domain_event).items() if k not in ENVELOPE_FIELDS}
        return cls(
            id=event_id(aggregate_id, version),
            type=event_type(topic),
            topic=topic,
            aggregate_id=aggregate_id,
            version=version,
            position=position,
            timestamp=domain_event.timestamp,
            data=jsonable(attributes),
        )

    @classmethod
    def from_notification(cls, app: Application[Any], notification: Notification) -> EventMessage:
        """Decode a stored event (decrypting and upcasting as the engine does)."""
        domain_event = app.mapper.to_domain_event(notification)
        return cls.of(notification.id, notification.topic, domain_event)

    @property
    def aggregate_type(self) -> str:
        return self.type.partition(".")[0]

    @cached_property
    def _text(self) -> tuple[str, str, str]:
        """id, aggregate id and timestamp as text, made once (the relay needs them twice)."""
        return str(self.id), str(self.aggregate_id), self.timestamp.isoformat()

    def body(self) -> dict[str, Any]:
        event_id, aggregate_id, timestamp = self._text
        return {
            "schema": SCHEMA,
            "id": event_id,
            "type": self.type,
            "topic": self.topic,
            "aggregate_type": self.aggregate_type,
            "aggregate_id": aggregate_id,
            "version": self.version,
            "position": self.position,
            "timestamp": timestamp,
            "data": self.data,
        }

    def to_json(self) -> bytes:
        return json.dumps(self.body(), ensure_ascii=False, separators=(",", ":")).encode()

    def headers(self) -> dict[str, str]:
        event_id, aggregate_id, timestamp = self._text
        return {
            H_MSG_ID: event_id,
            H_SCHEMA: SCHEMA,
            H_EVENT_ID: event_id,
            H_TYPE: self.type,
            H_TOPIC: self.topic,
            H_AGGREGATE_ID: aggregate_id,
            H_VERSION: str(self.version),
            H_POSITION: str(self.position),
            H_TIMESTAMP: timestamp,
        }

    @classmethod
    def from_json(cls, payload: bytes) -> EventMessage:
        """Parse a body; BadMessageError when it is not JSON or not schema orderflow.event/1."""
        try:
            body = json.loads(payload)
            if not isinstance(body, dict) or body.get("schema") != SCHEMA:
                schema = body.get("schema") if isinstance(body, dict) else None
                raise BadMessageError(f"schema: expected {SCHEMA!r}, got {schema!r}")
            return cls(
                id=UUID(body["id"]),
                type=str(body["type"]),
                topic=str(body["topic"]),
                aggregate_id=UUID(body["aggregate_id"]),
                version=int(body["version"]),
                position=int(body["position"]),
                timestamp=datetime.fromisoformat(body["timestamp"]),
                data=dict(body.get("data") or {}),
            )
        except BadMessageError:
            raise
        except (ValueError, KeyError, TypeError) as error:
            raise BadMessageError(
                f"body: not an orderflow event ({type(error).__name__}: {error})"
            ) from None


class Outgoing(NamedTuple):
    """One event as the relay publishes it."""

    position: int
    subject: str
    payload: bytes
    headers: dict[str, str]


def encode_message(prefix: str, message: EventMessage) -> Outgoing:
    """The subject, body and headers of a decoded event (the reference encoding)."""
    return Outgoing(
        message.position, subject_for(prefix, message.topic), message.to_json(), message.headers()
    )


# Passing stored JSON through --------------------------------------------------------------------
# The library stores an event as JSON of its attributes (minus originator id and version) with
# typed values wrapped: {"_type_":"decimal_str","_data_":"5"}. Decoding gives the attributes in
# the stored order, and `jsonable` turns exactly these three wrapped types back into the strings
# inside the wrappers (UUIDs with dashes), so unwrapping the stored text gives the same `data`
# JSON, byte for byte, as decoding and encoding again.
_STORED = re.compile(
    r'\{"timestamp":\{"_type_":"datetime_iso","_data_":"([^"\\]+)"\}'
    r'(?:,"originator_topic":"[^"\\]*")?(.*)\}',
    re.DOTALL,
)
_WRAPPED = re.compile(r'\{"_type_":"(decimal_str|datetime_iso|uuid_hex)","_data_":"([^"\\]*)"\}')
_PLAIN_TRANSCODINGS = frozenset({"decimal_str", "datetime_iso", "uuid_hex"})


def _unwrap(match: re.Match[str]) -> str:
    kind, data = match.groups()
    return f'"{UUID(data)}"' if kind == "uuid_hex" else f'"{data}"'


def stores_plain_json(mapper: Mapper[Any]) -> bool:
    """The mapper writes plain JSON with only the library's uuid / decimal / datetime types
    (the engine's TimestampMapper writes the library mapper's bytes: tests/unit/test_mapping)."""
    transcoder = mapper.transcoder
    return (
        type(mapper) in (Mapper, TimestampMapper)
        and mapper.cipher is None
        and mapper.compressor is None
        and type(transcoder) is JSONTranscoder
        and set(transcoder.names) <= _PLAIN_TRANSCODINGS
    )


class _Topic(NamedTuple):
    topic: str
    subject: str
    type: str
    fields: str  # '"type":...,"topic":...,"aggregate_type":...' of the body
    passthrough: bool  # the event class reads its stored state as it is (no upcasting)


class Encoder:
    """Stored events to relay messages, byte-identical to `encode_message` of the decoded event.

    When the store keeps plain JSON and the event class needs no upcasting, the stored JSON is
    passed through (type wrappers unwrapped) instead of being decoded into objects and encoded
    again; anything else (a cipher, compression, custom types, upcasting, an unexpected layout)
    is decoded through the application's mapper. Subjects and the body's type fields are made
    once per topic.
    """

    def __init__(self, app: Application[Any], prefix: str) -> None:
        self.app = app
        self.prefix = prefix
        self.plain = stores_plain_json(app.mapper)
        self.topics: dict[str, _Topic] = {}

    def _topic(self, topic: str) -> _Topic:
        kind = event_type(topic)
        dump = json.JSONEncoder(ensure_ascii=False).encode
        fields = (
            f'"type":{dump(kind)},"topic":{dump(topic)},'
            f'"aggregate_type":{dump(kind.partition(".")[0])}'
        )
        try:
            passthrough = self.plain and getattr(resolve_topic(topic), "class_version", 1) == 1
        except Exception:  # a topic this code cannot resolve: decoding says why
            passthrough = False
        found = self.topics[topic] = _Topic(
            topic, subject_for(self.prefix, topic), kind, fields, passthrough
        )
        return found

    def encode(self, notification: Notification) -> Outgoing:
        return self.encode_row(
            notification.id,
            str(notification.originator_id),
            notification.originator_version,
            notification.topic,
            notification.state,
        )

    def encode_row(
        self, position: int, aggregate_id: str, version: int, topic: str, state: bytes
    ) -> Outgoing:
        """The same from a stored row's columns (the aggregate id as a UUID string)."""
        known = self.topics.get(topic) or self._topic(topic)
        found = _STORED.fullmatch(state.decode()) if known.passthrough else None
        if found is not None:
            timestamp, rest = found.groups()
            data = "{" + _WRAPPED.sub(_unwrap, rest[1:]) + "}"
            expected = rest[:1] in ("", ",") and '"originator_topic":' not in rest
            if expected and '"_type_":' not in data:
                return self._passed(known, position, aggregate_id, version, timestamp, data)
        # anything unexpected: let the mapper read it
        row = Notification(
            id=position,
            originator_id=UUID(aggregate_id),
            originator_version=version,
            topic=topic,
            state=bytes(state),
        )
        return self.decode(row)

    def _passed(
        self, known: _Topic, position: int, aggregate_id: str, version: int, at: str, data: str
    ) -> Outgoing:
        event_id = event_id_text(aggregate_id, version)
        body = (
            f'{{"schema":"{SCHEMA}","id":"{event_id}",{known.fields},'
            f'"aggregate_id":"{aggregate_id}","version":{version},"position":{position},'
            f'"timestamp":"{at}","data":{data}}}'
        )
        headers = {
            H_MSG_ID: event_id,
            H_SCHEMA: SCHEMA,
            H_EVENT_ID: event_id,
            H_TYPE: known.type,
            H_TOPIC: known.topic,
            H_AGGREGATE_ID: aggregate_id,
            H_VERSION: str(version),
            H_POSITION: str(position),
            H_TIMESTAMP: at,
        }
        return Outgoing(position, known.subject, body.encode(), headers)

    def decode(self, notification: Notification) -> Outgoing:
        """The reference path: decode through the mapper (decrypting, upcasting), encode."""
        message = EventMessage.from_notification(self.app, notification)
        return encode_message(self.prefix, message)
