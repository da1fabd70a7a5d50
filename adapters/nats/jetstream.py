"""Connecting to NATS and making sure the streams exist as the settings say."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig, StreamInfo
from nats.js.errors import BadRequestError
from orderflow.adapters.settings import Settings

from orderflow.errors import InvalidInputError, StoreUnavailableError

log = logging.getLogger("orderflow.streams")

STREAM_NAME_IN_USE = 10058


def require_nats(settings: Settings) -> str:
    """The NATS URL, or InvalidInputError when none is configured."""
    if not settings.nats_url:
        raise InvalidInputError("nats_url", "not set (ORDERFLOW_NATS_URL=nats://host:4222)")
    return str(settings.nats_url)


def require_shared_store(settings: Settings, engine: object | None) -> None:
    """A worker that opens its own engine needs a store other processes can see."""
    if engine is None and settings.store_config().backend == "memory":
        raise InvalidInputError(
            "database_url", "memory:// lives in one process; use sqlite:///file.db or postgresql://"
        )


def dead_letter_prefix(settings: Settings) -> str:
    """Dead letters go to <prefix>_dlq.<subscriber>.<aggregate>.<event>: outside the main stream."""
    return f"{settings.subject_prefix}_dlq"


def stream_config(settings: Settings) -> StreamConfig:
    """The events stream: every subject under the prefix, kept on file, de-duplicated by id."""
    return StreamConfig(
        name=settings.nats_stream,
        subjects=[f"{settings.subject_prefix}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=settings.nats_max_age or None,
        duplicate_window=settings.nats_duplicate_window,
        description="orderflow events, relayed from the event log",
    )


def dead_letter_config(settings: Settings) -> StreamConfig:
    """The dead-letter stream <STREAM>_DLQ on subjects that do not overlap the events stream."""
    return StreamConfig(
        name=f"{settings.nats_stream}_DLQ",
        subjects=[f"{dead_letter_prefix(settings)}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        duplicate_window=settings.nats_duplicate_window,
        description="orderflow events a subscriber gave up on",
    )


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> StreamInfo:
    """Create the stream, or update it to this config; check the server kept what matters."""
    try:
        info = await js.add_stream(config)
    except BadRequestError as error:
        if error.err_code != STREAM_NAME_IN_USE:
            raise
        info = await js.update_stream(config)
    kept = info.config
    if sorted(kept.subjects or []) != sorted(config.subjects or []) or (
        config.duplicate_window and kept.duplicate_window != config.duplicate_window
    ):
        raise InvalidInputError(
            "nats_stream",
            f"stream {config.name} has subjects {kept.subjects} and duplicate window "
            f"{kept.duplicate_window}s; expected {config.subjects} and {config.duplicate_window}s",
        )
    return info


async def connect(url: str, name: str, *, reconnect: bool, timeout: float = 2) -> NATS:
    """A connection that logs instead of printing; `reconnect=False`: the caller starts afresh."""

    async def on_error(error: Exception) -> None:
        log.debug("nats %s: %s", name, error)

    async def on_disconnected() -> None:
        log.info("nats %s: disconnected from %s", name, url)

    async def on_reconnected() -> None:
        log.info("nats %s: reconnected", name)

    options: dict[str, Any] = dict(
        servers=[url],
        name=name,
        connect_timeout=timeout,
        ping_interval=5,
        max_outstanding_pings=2,
        error_cb=on_error,
        disconnected_cb=on_disconnected,
        reconnected_cb=on_reconnected,
    )
    if reconnect:
        options.update(max_reconnect_attempts=-1, reconnect_time_wait=0.25)
    else:
        options.update(allow_reconnect=False)
    return await nats.connect(**options)


async def connect_until(
    url: str, name: str, stop: asyncio.Event, *, reconnect: bool
) -> NATS | None:
    """Connect, retrying with backoff until it works (None when `stop` is set first)."""
    delay = 0.1
    failures = 0
    while not stop.is_set():
        try:
            return await connect(url, name, reconnect=reconnect)
        except (OSError, TimeoutError, nats.errors.Error) as error:
            failures += 1
            if failures == 1 or failures % 20 == 0:
                log.warning(
                    "nats %s: cannot connect to %s (%s); retrying",
                    name,
                    url,
                    error or type(error).__name__,
                )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, 2.0)
    return None


async def check_connect(url: str) -> None:
    """Fail in one line when NATS cannot be reached at all (for CLI start-up)."""
    try:
        nc = await connect(url, "orderflow-check", reconnect=False)
    except Exception as error:
        raise StoreUnavailableError(
            f"nats_url: cannot reach {url} ({error or type(error).__name__})"
        ) from None
    await nc.close()
