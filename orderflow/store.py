"""Where events are stored: a database URL turned into the eventsourcing environment."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from orderflow.errors import InvalidInputError, StoreUnavailableError
from orderflow.recorders import recorder_topic

DEFAULT_DATABASE_URL = "sqlite:///orderflow.db"


@dataclass(frozen=True)
class StoreConfig:
    """A parsed database URL plus the tuning the engine passes to eventsourcing.

    URLs: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``, ``memory://``
    (in-process, for tests) and ``postgresql://user:password@host:port/dbname?schema=public``.
    """

    url: str = DEFAULT_DATABASE_URL
    create_tables: bool = True
    pool_size: int = 5
    max_overflow: int = 10
    connect_timeout: int = 5
    lock_timeout: int = 30
    cache_size: int = 10_000
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def backend(self) -> str:
        """'sqlite', 'postgres' or 'memory'."""
        return backend_of(self.url)

    def env(self) -> dict[str, str]:
        """The eventsourcing environment variables for this store (validates the URL)."""
        env = {
            "CREATE_TABLE": "y" if self.create_tables else "n",
            "AGGREGATE_CACHE_MAXSIZE": str(self.cache_size),
            "AGGREGATE_CACHE_FASTFORWARD": "y",
        }
        if self.cache_size <= 0:
            env.pop("AGGREGATE_CACHE_MAXSIZE")
        env.update(_backend_env(self))
        topic = recorder_topic(self.backend)
        if topic:
            env["APPLICATION_RECORDER_TOPIC"] = topic
        env.update(self.extra_env)
        # The PL/pgSQL insert path skips the table lock: positions interleave and log readers
        # (projections, the relay) skip events. Never on, whatever extra_env says.
        env["POSTGRES_ENABLE_DB_FUNCTIONS"] = "n"
        return env

    def describe(self) -> str:
        """The URL without its password, for messages and logs."""
        parts = urlsplit(self.url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return parts._replace(netloc=netloc).geturl()
        return self.url


def backend_of(url: str) -> str:
    """'sqlite', 'postgres' or 'memory' for a database URL; anything else is refused."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "sqlite":
        return "sqlite"
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        return "postgres"
    if scheme in ("memory", "popo"):
        return "memory"
    raise InvalidInputError(
        "database_url",
        f"unsupported scheme {scheme or '(none)'!r}: use sqlite:///path.db, "
        "postgresql://user@host:5432/dbname or memory://",
    )


def _backend_env(config: StoreConfig) -> dict[str, str]:
    backend = config.backend
    if backend == "memory":
        return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    if backend == "sqlite":
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": sqlite_path(config.url),
            "SQLITE_LOCK_TIMEOUT": str(config.lock_timeout),
        }
    return postgres_env(config)


def sqlite_path(url: str) -> str:
    """The file path of a sqlite:/// URL (':memory:' is refused: it cannot be shared)."""
    parts = urlsplit(url)
    if parts.netloc:
        raise InvalidInputError(
            "database_url", f"{url!r}: a SQLite URL has three slashes, e.g. sqlite:///orderflow.db"
        )
    path = unquote(parts.path)
    path = path[1:] if path.startswith("/") else path
    if not path or path == ":memory:":
        raise InvalidInputError(
            "database_url", "give a file, e.g. sqlite:///orderflow.db (use memory:// for in-memory)"
        )
    parent = Path(path).expanduser().resolve().parent
    if not parent.is_dir():
        raise InvalidInputError("database_url", f"folder {parent} does not exist")
    return str(Path(path).expanduser())


def postgres_env(config: StoreConfig) -> dict[str, str]:
    """POSTGRES_* variables for a postgresql:// URL."""
    parts = urlsplit(config.url)
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise InvalidInputError(
            "database_url", "name the database, e.g. postgresql://user@host/orderflow"
        )
    try:
        port = parts.port or 5432
    except ValueError:
        raise InvalidInputError("database_url", "the port is not a number") from None
    query = parse_qs(parts.query)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": query.get("host", [parts.hostname or "localhost"])[0],
        "POSTGRES_PORT": str(port),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_POOL_SIZE": str(config.pool_size),
        "POSTGRES_MAX_OVERFLOW": str(config.max_overflow),
        "POSTGRES_CONNECT_TIMEOUT": str(config.connect_timeout),
        "POSTGRES_LOCK_TIMEOUT": str(config.lock_timeout),
    }
    if "schema" in query:
        env["POSTGRES_SCHEMA"] = query["schema"][0]
    return env


def check_reachable(config: StoreConfig) -> None:
    """Fail fast, in one line, when a PostgreSQL server does not answer on its port."""
    if config.backend != "postgres":
        return
    env = postgres_env(config)
    host, port = env["POSTGRES_HOST"], int(env["POSTGRES_PORT"])
    if host.startswith("/"):
        return  # a Unix socket folder; the driver reports problems itself
    try:
        with socket.create_connection((host, port), timeout=config.connect_timeout):
            pass
    except OSError as error:
        raise StoreUnavailableError(
            f"database_url: cannot reach PostgreSQL at {host}:{port} ({error.strerror or error})"
        ) from None
