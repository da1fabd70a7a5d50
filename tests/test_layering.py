"""The layering of DESIGN.md, checked on the import statements of every module (ast, no import).

- `orderflow/` (domain + application) imports nothing from orderflow.projections or
  orderflow.adapters, nor typer, pydantic, pydantic_settings, nats, psycopg or rich;
- `projections/` imports nothing from orderflow.adapters.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

OUTSIDE_FRAMEWORKS = ("typer", "pydantic", "pydantic_settings", "nats", "psycopg", "rich")
DOMAIN_MUST_NOT_IMPORT = ("orderflow.projections", "orderflow.adapters", *OUTSIDE_FRAMEWORKS)
PROJECTIONS_MUST_NOT_IMPORT = ("orderflow.adapters",)


def package_of(path: Path, folder: Path, package: str) -> str:
    """The dotted package a module file belongs to (a package's __init__ is the package)."""
    parts = list(path.relative_to(folder).with_suffix("").parts)
    parts = parts[:-1]  # the module's own name; __init__ belongs to its folder's package
    return ".".join([package, *parts])


def imported_names(source: str, package: str) -> Iterator[tuple[int, str]]:
    """(line, module) for every import, relative ones resolved against `package`."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = resolve(node.module, node.level, package)
            yield node.lineno, base
            for alias in node.names:  # `from orderflow import adapters` imports a module too
                yield node.lineno, f"{base}.{alias.name}"


def resolve(module: str | None, level: int, package: str) -> str:
    if level == 0:
        return module or ""
    parent = package.split(".")
    parent = parent[: len(parent) - (level - 1)]
    return ".".join([*parent, *([module] if module else [])])


def breaks(name: str, forbidden: tuple[str, ...]) -> bool:
    return any(name == f or name.startswith(f"{f}.") for f in forbidden)


def violations_in(source: str, package: str, forbidden: tuple[str, ...]) -> list[tuple[int, str]]:
    """(line, module) of each import statement that breaks the rule, once per line."""
    first: dict[int, str] = {}
    for line, name in imported_names(source, package):
        if breaks(name, forbidden):
            first.setdefault(line, name)
    return sorted(first.items())


def violations(root: Path, package: str, forbidden: tuple[str, ...]) -> list[str]:
    """Every forbidden import in the modules under `root`, as 'path:line imports name'."""
    found = []
    for path in sorted(root.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        for line, name in violations_in(source, package_of(path, root, package), forbidden):
            found.append(f"{path.relative_to(root.parent)}:{line} imports {name}")
    return found


def test_every_module_of_each_layer_is_checked() -> None:
    domain = {p.name for p in (ROOT / "orderflow").rglob("*.py")}
    assert {"__init__.py", "engine.py", "stock_item.py", "values.py"} <= domain
    assert (ROOT / "projections" / "__init__.py").is_file()


def test_the_domain_imports_no_projections_adapters_or_outside_frameworks() -> None:
    assert violations(ROOT / "orderflow", "orderflow", DOMAIN_MUST_NOT_IMPORT) == []


def test_projections_import_nothing_from_the_adapters() -> None:
    found = violations(ROOT / "projections", "orderflow.projections", PROJECTIONS_MUST_NOT_IMPORT)
    assert found == []


def test_a_module_in_a_sub_package_that_breaks_the_layering_is_reported(tmp_path: Path) -> None:
    (tmp_path / "projections" / "board").mkdir(parents=True)
    (tmp_path / "projections" / "__init__.py").write_text("")
    (tmp_path / "projections" / "board" / "__init__.py").write_text("")
    (tmp_path / "projections" / "board" / "view.py").write_text(
        "from orderflow.engine import Engine\nfrom ...adapters.cli import output\n"
    )
    found = violations(
        tmp_path / "projections", "orderflow.projections", PROJECTIONS_MUST_NOT_IMPORT
    )
    assert found == ["projections/board/view.py:2 imports orderflow.adapters.cli"]


@pytest.mark.parametrize(
    ("source", "package", "forbidden"),
    [
        ("import typer", "orderflow", DOMAIN_MUST_NOT_IMPORT),
        ("import psycopg.errors", "orderflow", DOMAIN_MUST_NOT_IMPORT),
        ("from pydantic import BaseModel", "orderflow", DOMAIN_MUST_NOT_IMPORT),
        ("from rich.table import Table", "orderflow", DOMAIN_MUST_NOT_IMPORT),
        ("from orderflow.adapters.cli import app", "orderflow", DOMAIN_MUST_NOT_IMPORT),
        ("from orderflow import projections", "orderflow", DOMAIN_MUST_NOT_IMPORT),
        ("def f():\n    import nats\n", "orderflow", DOMAIN_MUST_NOT_IMPORT),
        ("from .adapters import settings", "orderflow", DOMAIN_MUST_NOT_IMPORT),
        (
            "from ..adapters.settings import Settings",
            "orderflow.projections",
            PROJECTIONS_MUST_NOT_IMPORT,
        ),
        (
            "from orderflow.adapters import demo",
            "orderflow.projections",
            PROJECTIONS_MUST_NOT_IMPORT,
        ),
    ],
)
def test_the_check_catches_a_forbidden_import(
    source: str, package: str, forbidden: tuple[str, ...]
) -> None:
    assert violations_in(source, package, forbidden) != []


@pytest.mark.parametrize(
    ("source", "package", "forbidden"),
    [
        ("from eventsourcing.domain import Aggregate", "orderflow", DOMAIN_MUST_NOT_IMPORT),
        ("from orderflow.values import money", "orderflow", DOMAIN_MUST_NOT_IMPORT),
        ("import richtext", "orderflow", DOMAIN_MUST_NOT_IMPORT),
        ("from . import values", "orderflow", DOMAIN_MUST_NOT_IMPORT),
        (
            "from orderflow.engine import Engine",
            "orderflow.projections",
            PROJECTIONS_MUST_NOT_IMPORT,
        ),
    ],
)
def test_the_check_lets_allowed_imports_through(
    source: str, package: str, forbidden: tuple[str, ...]
) -> None:
    assert violations_in(source, package, forbidden) == []
