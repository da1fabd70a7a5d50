"""How the CLI prints: rich tables for people, JSON for scripts, one red line for errors."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, is_dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, NoReturn, ParamSpec, TypeVar
from uuid import UUID

import typer
from eventsourcing.persistence import PersistenceError
from rich.console import Console
from rich.table import Table

from orderflow.errors import OrderflowError

try:  # typer >= 0.20 ships its own copy of click
    from typer._click import exceptions as usage_errors
except ImportError:  # pragma: no cover - older typer on top of click
    from click import exceptions as usage_errors  # type: ignore[no-redef]

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str) -> NoReturn:
    """Print one line to stderr and exit with status 1."""
    err_console.print(f"[bold red]error[/] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code=1)


def reports_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn the engine's errors into `field: reason` on stderr and exit status 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except OrderflowError as error:
            fail(str(error))
        except PersistenceError as error:  # a database failure the engine did not translate
            lines = str(error).strip().splitlines()
            fail(f"database: {lines[0] if lines else type(error).__name__}")

    return wrapper


def run(app: typer.Typer) -> NoReturn:
    """Run the CLI. Usage errors print one `option: reason` line, like the engine's; exit 1."""
    try:
        code = app(standalone_mode=False)
    except usage_errors.NoArgsIsHelpError:
        code = 1  # the help has been printed
    except usage_errors.UsageError as error:
        err_console.print(
            f"[bold red]error[/] {usage_line(error)}", highlight=False, soft_wrap=True
        )
        code = 1
    except typer.Abort:
        code = 1
    raise SystemExit(code if isinstance(code, int) else 0)


def usage_line(error: usage_errors.UsageError) -> str:
    """A usage error as `option: reason (see 'orderflow ... --help')`."""
    hint = f" (see '{error.ctx.command_path} --help')" if error.ctx else ""
    param = getattr(error, "param", None)
    if isinstance(error, usage_errors.BadParameter) and param is not None:
        is_option = getattr(param, "param_type_name", "") == "option"
        name = max(param.opts, key=len) if is_option else param.name
        missing = isinstance(error, usage_errors.MissingParameter)
        return f"{name}: {'is missing' if missing else error.message}{hint}"
    if isinstance(error, usage_errors.NoSuchOption):
        return f"{error.option_name}: no such option{hint}"
    return f"usage: {error.format_message()}{hint}"


def plain(value: Any) -> Any:
    """Dataclasses, Decimals, UUIDs and enums as JSON-ready values."""
    if is_dataclass(value) and not isinstance(value, type):
        return plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal | UUID):
        return str(value)
    return value


def print_json(value: Any) -> None:
    """Print a value as indented JSON (UTF-8, Vietnamese kept readable)."""
    typer.echo(json.dumps(plain(value), ensure_ascii=False, indent=2))


def vnd(amount: Decimal | int) -> str:
    """An amount of dong with thousands separators: 1,250,000."""
    return f"{Decimal(amount):,.0f}"


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A rich table; numbers align right."""
    table = Table(title=title, title_justify="left", header_style="bold")
    numeric = [
        bool(rows) and all(isinstance(r[i], int | Decimal) for r in rows)
        for i in range(len(columns))
    ]
    for column, right in zip(columns, numeric, strict=True):
        table.add_column(column, justify="right" if right else "left")
    for row in rows:
        table.add_row(*(vnd(c) if isinstance(c, Decimal) else str(c) for c in row))
    console.print(table)


def print_fields(title: str, fields: Sequence[tuple[str, Any]]) -> None:
    """A two-column key / value table for one record."""
    print_table(title, ["field", "value"], [(k, v) for k, v in fields])
