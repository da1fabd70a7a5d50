"""One active worker per store: a PostgreSQL advisory lock or an OS file lock; and a LISTEN waiter.

A lock is held for the worker's whole life on a connection (PostgreSQL) or file descriptor
(SQLite) of its own, so it is released by the server or the OS the moment the process dies, and
a waiting worker takes over.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import IO, Any, Protocol

from orderflow.store import StoreConfig, postgres_env, sqlite_path

log = logging.getLogger("orderflow.streams")


class LockLostError(RuntimeError):
    """The connection holding the lock broke; another worker may hold it now."""


class StoreLock(Protocol):
    def try_acquire(self) -> bool: ...
    def check(self) -> None: ...
    def release(self) -> None: ...


def store_lock(config: StoreConfig, name: str) -> StoreLock:
    """The lock `name` on this store: advisory (PostgreSQL), file (SQLite), thread (memory)."""
    if config.backend == "postgres":
        return AdvisoryLock(config, name)
    if config.backend == "sqlite":
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        return FileLock(Path(f"{sqlite_path(config.url)}.{safe}.lock"))
    return ThreadLock(name)


def acquire(lock: StoreLock, stop: threading.Event, poll: float = 0.5, what: str = "lock") -> bool:
    """Wait until the lock is ours (True) or `stop` is set (False)."""
    waiting_logged = False
    while not stop.is_set():
        if lock.try_acquire():
            if waiting_logged:
                log.info("%s: taken over", what)
            return True
        if not waiting_logged:
            log.info("%s: another process holds it; waiting to take over", what)
            waiting_logged = True
        stop.wait(poll)
    return False


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock."""
    return int.from_bytes(
        hashlib.sha256(f"orderflow:{name}".encode()).digest()[:8], "big", signed=True
    )


def pg_connect(config: StoreConfig) -> Any:
    """A dedicated autocommit psycopg connection (not from the engine's pool)."""
    import psycopg

    env = postgres_env(config)
    return psycopg.connect(
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"] or None,
        connect_timeout=config.connect_timeout,
        autocommit=True,
        application_name="orderflow-streams",
    )


class AdvisoryLock:
    """pg_try_advisory_lock on a connection of its own, held until release or process death."""

    def __init__(self, config: StoreConfig, name: str) -> None:
        self.config = config
        self.key = advisory_key(name)
        self.conn: Any = None

    def try_acquire(self) -> bool:
        import psycopg

        try:
            if self.conn is None or self.conn.closed:
                self.conn = pg_connect(self.config)
            row = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
            return bool(row and row[0])
        except psycopg.Error as error:
            log.warning("lock: database unavailable (%s)", str(error).strip().splitlines()[0])
            self._drop()
            return False

    def check(self) -> None:
        import psycopg

        try:
            self.conn.execute("SELECT 1")
        except (psycopg.Error, AttributeError) as error:
            self._drop()
            raise LockLostError(f"lock: connection lost ({error})") from None

    def release(self) -> None:
        import psycopg

        if self.conn is not None and not self.conn.closed:
            with contextlib.suppress(psycopg.Error):
                self.conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        self._drop()

    def _drop(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):  # already broken
                self.conn.close()
        self.conn = None


class FileLock:
    """flock on a file next to the SQLite database; the OS releases it when the process dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: IO[str] | None = None

    def try_acquire(self) -> bool:
        file = open(self.path, "a+")  # noqa: SIM115 - held open for the lock's life
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            return False
        file.seek(0)
        file.truncate()
        file.write(f"{os.getpid()}\n")
        file.flush()
        self.file = file
        return True

    def check(self) -> None:
        pass

    def release(self) -> None:
        if self.file is not None:
            fcntl.flock(self.file.fileno(), fcntl.LOCK_UN)
            self.file.close()
            self.file = None


_THREAD_LOCKS: dict[str, threading.Lock] = {}


class ThreadLock:
    """For memory:// engines, which live in one process."""

    def __init__(self, name: str) -> None:
        self.lock = _THREAD_LOCKS.setdefault(name, threading.Lock())
        self.held = False

    def try_acquire(self) -> bool:
        self.held = self.lock.acquire(blocking=False)
        return self.held

    def check(self) -> None:
        pass

    def release(self) -> None:
        if self.held:
            self.lock.release()
            self.held = False


class PgListener:
    """A `Waiter` for event_log.follow_log: returns when PostgreSQL NOTIFYs a new event."""

    def __init__(self, config: StoreConfig, channel: str) -> None:
        self.config = config
        self.channel = channel
        self.conn: Any = None

    def __call__(self, timeout: float) -> None:
        import psycopg

        try:
            if self.conn is None:
                self.conn = pg_connect(self.config)
                self.conn.execute(f'LISTEN "{self.channel}"')
                return  # something may have been committed before LISTEN: look again now
            for _ in self.conn.notifies(timeout=timeout, stop_after=1):
                break
        except psycopg.Error:
            self.close()
            time.sleep(timeout)

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):  # already broken
                self.conn.close()
        self.conn = None


def follow_options(listener: PgListener | None) -> dict[str, Any]:
    """follow_log arguments: wake on NOTIFY (PostgreSQL); poll SQLite every 2 ms while events
    come, backing off to 50 ms when idle (an empty look costs tens of microseconds)."""
    if listener is not None:
        return {"wait": listener, "idle_timeout": 0.05, "max_idle_timeout": 0.5}
    return {"idle_timeout": 0.002, "max_idle_timeout": 0.05}
