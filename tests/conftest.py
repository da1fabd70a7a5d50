"""Shared fixtures: engines on every backend, real PostgreSQL and NATS servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orderflow import Engine, open_engine
from tests import services

BACKENDS = ("sqlite", "postgres")


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """URL of a real PostgreSQL server (see tests/services.py for where it comes from)."""
    with services.postgres_server() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    with services.fresh_database(postgres_server_url) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file for one test."""
    return f"sqlite:///{tmp_path / 'orderflow.db'}"


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest) -> str:
    """A fresh store URL on each persistent backend (the same scenario runs on both)."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """An engine on a fresh store, on each persistent backend."""
    e = open_engine(store_url)
    yield e
    e.close()


@pytest.fixture
def memory_engine() -> Iterator[Engine]:
    """An engine on in-memory persistence: fast, for scenarios that do not need a database."""
    e = open_engine("memory://")
    yield e
    e.close()


@pytest.fixture(scope="session")
def nats_server_url() -> Iterator[str]:
    """URL of a real NATS server with JetStream."""
    with services.nats_server() as url:
        yield url


@pytest.fixture
def run_id() -> str:
    """A name part unique to this test run, for streams, consumers and databases."""
    return services.RUN_ID
