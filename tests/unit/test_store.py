"""Database URLs turned into the eventsourcing environment, and refused when wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from orderflow.errors import InvalidInputError, StoreUnavailableError
from orderflow.store import StoreConfig, backend_of, check_reachable, sqlite_path


def test_a_relative_sqlite_url_names_a_file_in_the_working_folder() -> None:
    env = StoreConfig("sqlite:///orderflow.db").env()
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
    assert env["SQLITE_DBNAME"] == "orderflow.db"
    assert env["SQLITE_LOCK_TIMEOUT"] == "30"


def test_an_absolute_sqlite_url_has_four_slashes(tmp_path: Path) -> None:
    assert sqlite_path(f"sqlite:///{tmp_path}/shop.db") == f"{tmp_path}/shop.db"


def test_a_sqlite_url_with_two_slashes_is_refused_with_the_right_form() -> None:
    with pytest.raises(InvalidInputError, match=r"^database_url: .*three slashes"):
        StoreConfig("sqlite://shop.db").env()


def test_a_sqlite_url_without_a_file_is_refused() -> None:
    for url in ("sqlite:///", "sqlite:///:memory:"):
        with pytest.raises(InvalidInputError, match=r"^database_url: give a file"):
            StoreConfig(url).env()


def test_a_sqlite_file_in_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"^database_url: folder .* does not exist"):
        StoreConfig(f"sqlite:///{tmp_path}/nowhere/shop.db").env()


def test_a_postgresql_url_gives_every_connection_setting() -> None:
    config = StoreConfig(
        "postgresql://shop:s%40cret@db.internal:6543/orders?schema=sales",
        pool_size=3,
        max_overflow=2,
        connect_timeout=7,
        lock_timeout=9,
    )
    env = config.env()
    assert config.backend == "postgres"
    assert {k: v for k, v in env.items() if k.startswith("POSTGRES_")} == {
        "POSTGRES_DBNAME": "orders",
        "POSTGRES_HOST": "db.internal",
        "POSTGRES_PORT": "6543",
        "POSTGRES_USER": "shop",
        "POSTGRES_PASSWORD": "s@cret",
        "POSTGRES_POOL_SIZE": "3",
        "POSTGRES_MAX_OVERFLOW": "2",
        "POSTGRES_CONNECT_TIMEOUT": "7",
        "POSTGRES_LOCK_TIMEOUT": "9",
        "POSTGRES_SCHEMA": "sales",
        "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
    }


def test_postgresql_defaults_to_port_5432_and_user_postgres() -> None:
    env = StoreConfig("postgres://localhost/orderflow").env()
    assert (env["POSTGRES_PORT"], env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == (
        "5432",
        "postgres",
        "",
    )


def test_a_postgresql_url_can_name_a_unix_socket_folder() -> None:
    env = StoreConfig("postgresql:///orderflow?host=/var/run/postgresql").env()
    assert env["POSTGRES_HOST"] == "/var/run/postgresql"


def test_a_postgresql_url_without_a_database_name_is_refused() -> None:
    for url in ("postgresql://localhost", "postgresql://localhost/"):
        with pytest.raises(InvalidInputError, match=r"^database_url: name the database"):
            StoreConfig(url).env()


def test_a_postgresql_url_with_a_bad_port_is_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"^database_url: the port is not a number"):
        StoreConfig("postgresql://localhost:pg/orderflow").env()


def test_the_unsafe_database_functions_path_cannot_be_switched_on() -> None:
    config = StoreConfig(
        "postgresql://localhost/of", extra_env={"POSTGRES_ENABLE_DB_FUNCTIONS": "y"}
    )
    assert config.env()["POSTGRES_ENABLE_DB_FUNCTIONS"] == "n"


def test_memory_urls_use_in_process_persistence() -> None:
    assert StoreConfig("memory://").env()["PERSISTENCE_MODULE"] == "eventsourcing.popo"


@pytest.mark.parametrize("url", ["mysql://localhost/of", "orderflow.db", "", "http://x/y"])
def test_an_unsupported_scheme_is_refused_naming_the_ones_that_work(url: str) -> None:
    with pytest.raises(InvalidInputError, match=r"^database_url: unsupported scheme .*sqlite:///"):
        backend_of(url)


def test_workers_can_skip_creating_tables_and_the_cache_can_be_turned_off() -> None:
    env = StoreConfig("memory://", create_tables=False, cache_size=0).env()
    assert env["CREATE_TABLE"] == "n"
    assert "AGGREGATE_CACHE_MAXSIZE" not in env


def test_the_cache_fast_forwards_so_several_processes_stay_correct() -> None:
    env = StoreConfig("memory://").env()
    assert env["AGGREGATE_CACHE_MAXSIZE"] == "10000"
    assert env["AGGREGATE_CACHE_FASTFORWARD"] == "y"


def test_the_password_is_hidden_when_a_url_is_described() -> None:
    config = StoreConfig("postgresql://shop:secret@db/orders")
    assert config.describe() == "postgresql://shop:***@db/orders"


def test_an_unreachable_postgresql_server_is_one_clear_error() -> None:
    config = StoreConfig("postgresql://postgres@127.0.0.1:1/orderflow", connect_timeout=2)
    with pytest.raises(
        StoreUnavailableError, match=r"^database_url: cannot reach PostgreSQL at 127.0.0.1:1"
    ):
        check_reachable(config)
