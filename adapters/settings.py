"""The one settings object: built and validated at the entry point, then passed down."""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from orderflow.engine import Engine, open_engine
from orderflow.errors import InvalidInputError, StoreUnavailableError
from orderflow.store import DEFAULT_DATABASE_URL, StoreConfig, backend_of


class Settings(BaseSettings):
    """orderflow's settings, from `ORDERFLOW_*` environment variables or a `.env` file."""

    model_config = SettingsConfigDict(env_prefix="ORDERFLOW_", env_file=".env", extra="ignore")

    database_url: str = Field(DEFAULT_DATABASE_URL, description="sqlite:///file.db, postgresql://... or memory://")
    create_tables: bool = Field(True, description="create tables on start (run once, then false on workers)")
    pool_size: int = Field(5, ge=1, le=100, description="PostgreSQL connections kept open")
    max_overflow: int = Field(10, ge=0, le=100, description="extra PostgreSQL connections under load")
    connect_timeout: int = Field(5, ge=1, le=120, description="seconds to wait for a connection")
    lock_timeout: int = Field(30, ge=1, le=600, description="seconds a write waits for the table lock")
    cache_size: int = Field(10_000, ge=0, description="aggregates kept in the in-process cache (0 = off)")

    nats_url: str | None = Field(None, description="nats://host:4222; unset = handlers run in-process")
    nats_stream: str = Field("ORDERFLOW", description="JetStream stream the relay publishes to")
    subject_prefix: str = Field("orderflow", description="subjects are <prefix>.<aggregate>.<event>")
    nats_duplicate_window: float = Field(120, gt=0, description="seconds JetStream de-duplicates by Nats-Msg-Id")
    nats_max_age: float = Field(0, ge=0, description="seconds the stream keeps events (0 = forever)")
    relay_max_pending: int = Field(1000, ge=1, le=100_000, description="relay publishes awaiting their ack")
    relay_ack_timeout: float = Field(5, gt=0, description="seconds the relay waits for an ack before republishing")
    subscriber_ack_wait: float = Field(30, gt=0, description="seconds a subscriber may take before redelivery")
    subscriber_max_deliveries: int = Field(5, ge=1, le=100, description="attempts before a dead letter")
    subscriber_backoff: list[float] = Field([1, 5, 30], description="seconds before each retry (last repeats)")
    invoice_threshold: int | None = Field(
        None, gt=0, description="order total (VND) from which a VAT invoice is issued automatically"
    )

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        try:
            backend_of(url)
        except InvalidInputError as error:
            raise ValueError(error.reason) from None
        return url

    def store_config(self) -> StoreConfig:
        """The engine's view of these settings."""
        return StoreConfig(
            url=self.database_url,
            create_tables=self.create_tables,
            pool_size=self.pool_size,
            max_overflow=self.max_overflow,
            connect_timeout=self.connect_timeout,
            lock_timeout=self.lock_timeout,
            cache_size=self.cache_size,
        )

    def open_engine(self) -> Engine:
        """Open the engine, failing in one clear line when the database is wrong or down."""
        config = self.store_config()
        if config.backend == "postgres":
            probe_postgres(config)
        engine = open_engine(config)
        engine.connect(invoice_threshold=self.invoice_threshold)
        return engine


def probe_postgres(config: StoreConfig) -> None:
    """Connect once with psycopg so a wrong database, user or password reads as one line."""
    import psycopg

    from orderflow.store import check_reachable, postgres_env

    check_reachable(config)
    env = postgres_env(config)
    try:
        psycopg.connect(
            dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"] or None,
            connect_timeout=config.connect_timeout,
        ).close()
    except psycopg.Error as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise StoreUnavailableError(f"database_url: cannot open {config.describe()}: {reason}") from None


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment plus explicit overrides, or InvalidInputError naming the field."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "settings"
        raise InvalidInputError(field, first["msg"].removeprefix("Value error, ")) from None
