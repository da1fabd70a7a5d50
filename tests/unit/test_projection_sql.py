"""View tables rendered for each backend: one definition, the SQL each database needs."""

from __future__ import annotations

import pytest
from orderflow.projections.sql import SQLITE, BoundTable, Table, postgres, stage_table

LEVELS = Table(
    "levels", "sku text, warehouse text, on_hand int", key="sku, warehouse", indexes=("warehouse",)
)


def test_a_table_is_created_with_its_key_defaults_and_indexes_on_sqlite() -> None:
    table = BoundTable(LEVELS, "view_stock_levels", SQLITE)
    create, index = table.create()
    assert create == (
        "CREATE TABLE IF NOT EXISTS view_stock_levels (sku TEXT NOT NULL DEFAULT '', "
        "warehouse TEXT NOT NULL DEFAULT '', on_hand INTEGER NOT NULL DEFAULT 0, "
        "PRIMARY KEY (sku, warehouse))"
    )
    assert (
        index == "CREATE INDEX IF NOT EXISTS view_stock_levels_ix0 ON view_stock_levels (warehouse)"
    )


def test_postgresql_tables_live_in_the_engines_schema_with_bigint_numbers() -> None:
    table = BoundTable(LEVELS, "view_stock_levels", postgres("shop"))
    assert table.create()[0].startswith('CREATE TABLE IF NOT EXISTS "shop"."view_stock_levels"')
    assert "on_hand BIGINT NOT NULL DEFAULT 0" in table.create()[0]


def test_a_put_overwrites_only_the_given_columns_of_an_existing_row() -> None:
    sqlite = BoundTable(LEVELS, "t", SQLITE).put(["sku", "warehouse", "on_hand"])
    assert sqlite == (
        "INSERT INTO t (sku, warehouse, on_hand) VALUES (?, ?, ?) "
        "ON CONFLICT (sku, warehouse) DO UPDATE SET on_hand = excluded.on_hand"
    )
    assert BoundTable(LEVELS, "t", SQLITE).put(["sku", "warehouse"]).endswith("DO NOTHING")


def test_postgresql_writes_a_batch_with_one_statement_over_its_part_of_the_staging_table() -> None:
    put = BoundTable(LEVELS, "t", postgres("public")).put(["sku", "warehouse", "on_hand"], 3)
    assert put == (
        'INSERT INTO "public"."t" (sku, warehouse, on_hand)'
        " SELECT c0, c1, c2::BIGINT FROM orderflow_stage WHERE k = 3"
        " ON CONFLICT (sku, warehouse) DO UPDATE SET on_hand = excluded.on_hand"
    )


def test_the_staging_table_has_a_part_number_and_text_columns_and_empties_at_commit() -> None:
    name, create = stage_table(8, postgres("public"))
    assert name == "orderflow_stage8"
    assert create.startswith(
        f'CREATE TEMPORARY TABLE IF NOT EXISTS {name} (k INTEGER, c0 TEXT COLLATE "C", '
    )
    assert create.endswith('c7 TEXT COLLATE "C") ON COMMIT DELETE ROWS')


def test_postgresql_text_compares_byte_by_byte_as_sqlite_does() -> None:
    create = BoundTable(LEVELS, "t", postgres("public")).create()[0]
    assert """sku TEXT COLLATE "C" NOT NULL DEFAULT ''""" in create


def test_folds_add_or_keep_the_least_or_greatest_in_each_dialect() -> None:
    columns = ["sku", "warehouse", "on_hand"]
    assert "on_hand = x.on_hand + excluded.on_hand" in BoundTable(LEVELS, "t", SQLITE).fold(
        "add", columns
    )
    assert "on_hand = min(x.on_hand, excluded.on_hand)" in BoundTable(LEVELS, "t", SQLITE).fold(
        "least", columns
    )
    pg = BoundTable(LEVELS, "t", postgres("public"))
    assert "on_hand = GREATEST(x.on_hand, excluded.on_hand)" in pg.fold("greatest", columns)


def test_deleting_many_rows_is_one_statement_on_postgresql() -> None:
    table = BoundTable(LEVELS, "t", postgres("public"))
    assert table.delete_many(["sku", "warehouse"], 0) == (
        'DELETE FROM "public"."t" AS x USING (SELECT c0, c1 FROM orderflow_stage WHERE k = 0)'
        " AS s (sku, warehouse) WHERE x.sku = s.sku AND x.warehouse = s.warehouse"
    )
    assert BoundTable(LEVELS, "t", SQLITE).delete_many(["sku"]) == "DELETE FROM t WHERE sku = ?"


def test_query_sql_is_written_once_with_question_marks_and_table_names() -> None:
    query = "SELECT on_hand FROM {levels} WHERE sku = ?"
    assert (
        SQLITE.render(query, levels="view_stock_levels")
        == "SELECT on_hand FROM view_stock_levels WHERE sku = ?"
    )
    assert postgres("public").render(query, levels="view_stock_levels") == (
        'SELECT on_hand FROM "public"."view_stock_levels" WHERE sku = %s'
    )


def test_a_percent_sign_in_query_sql_is_refused_because_postgresql_would_misread_it() -> None:
    with pytest.raises(ValueError, match="placeholders"):
        SQLITE.render("SELECT * FROM {t} WHERE name LIKE 'a%'", t="x")


def test_an_unknown_column_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown column types"):
        _ = Table("t", "price decimal", key="price").column_types
