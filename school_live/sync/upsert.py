"""Batched ``INSERT ... ON CONFLICT DO UPDATE`` of plain tuples, for big watch snapshots.

This is the statement ``bulk_create(update_conflicts=True, unique_fields=..., update_fields=...)``
sends (its conflict clause is the one Django writes: ``db_internals.conflict_update_sql``), run
with ``executemany``. Measured on a 20,000-row living (``manage.py bench_sync``): bulk_create
spent 0.9 s building model instances and preparing each value, more than downloading the living
(0.6 s); with each distinct value prepared once (living_stats.py) the whole store takes 0.13 s,
0.07-0.09 s of it inside SQLite's executemany: the table's indexes and checks (many rows per
statement measured no faster). On PostgreSQL the rows go through a server-binding psycopg cursor
(see ``run``). Both SQLite (3.24+) and PostgreSQL accept the statement.
"""

import functools
from collections.abc import Callable, Iterable, Sequence

from django.db import connection, models, transaction

from school_live.db_internals import (
    conflict_update_sql,
    copy_rows,
    datetime_adapter,
    quote_name,
)

BATCH_SIZE = 2000


class Upsert:
    def __init__(self, model: type[models.Model], columns: Sequence[str], unique: Sequence[str]):
        meta = model._meta
        fields = [meta.get_field(name) for name in columns]
        unique_fields = [meta.get_field(name) for name in unique]
        update_fields = [f for f in fields if f not in unique_fields]
        self._suffix = conflict_update_sql(
            fields, unique_fields=unique_fields, update_fields=update_fields
        )
        self.sql = (
            f"INSERT INTO {quote_name(meta.db_table)} "  # noqa: S608 - quoted names, no data
            f"({', '.join(quote_name(f.column) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))})" + self._suffix
        )
        self.columns = list(columns)
        self.table = meta.db_table
        self.db_columns = [f.column for f in fields]
        self._prepare = [_preparer(field) for field in fields]
        self._select = (
            f"SELECT {quote_name(meta.pk.column)}, "  # noqa: S608 - quoted names, no data
            f"{', '.join(_raw(f) for f in unique_fields[1:] + update_fields)} "
            f"FROM {quote_name(meta.db_table)} WHERE {quote_name(unique_fields[0].column)} = %s"
        )

    def stored(self, scope) -> list[tuple]:
        """(pk, the other unique columns, the updated columns) of the rows whose first unique
        column (e.g. the living) is ``scope``, raw as the driver returns them: JSON as text on
        SQLite, decoded on PostgreSQL; timestamps as text on SQLite (see ``_raw``), aware
        datetimes on PostgreSQL."""
        with connection.cursor() as cursor:
            cursor.execute(self._select, [scope])
            return cursor.fetchall()

    def preparer(self, column: str) -> Callable:
        """The function ``prepare`` applies to ``column``'s values, for callers that build the
        driver's rows themselves (and can cache per distinct value)."""
        prep = self._prepare[self.columns.index(column)]
        return prep if prep is not None else _same

    def prepare(self, values: Sequence) -> tuple:
        """Python values (in column order) as the database driver takes them."""
        return tuple(
            value if prep is None else prep(value)
            for prep, value in zip(self._prepare, values, strict=True)
        )

    def run(self, rows: Iterable[tuple]) -> int:
        rows = list(rows)
        if not rows:
            return 0
        if connection.vendor == "postgresql":
            return self._copy_then_upsert(rows)
        with connection.cursor() as cursor:
            for start in range(0, len(rows), BATCH_SIZE):
                cursor.executemany(self.sql, rows[start : start + BATCH_SIZE])
        return len(rows)

    def _copy_then_upsert(self, rows: list[tuple]) -> int:
        """PostgreSQL: COPY the rows into a temporary table, then one INSERT ... SELECT with the
        same conflict clause. Row-by-row INSERTs cost 35 µs each on the server (0.8 s for a
        20,000-row living, more than its download); COPY and one set-based statement take a
        fraction of that. The staging table lives only inside this (sub)transaction."""
        stage = quote_name(f"stage_{self.table}")
        columns = ", ".join(quote_name(column) for column in self.db_columns)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS "  # noqa: S608 - quoted names
                f"SELECT {columns} FROM {quote_name(self.table)} WITH NO DATA"
            )
            copy_rows(cursor, f"COPY {stage} ({columns}) FROM STDIN", rows)
            cursor.execute(
                f"INSERT INTO {quote_name(self.table)} ({columns}) "  # noqa: S608 - quoted names
                f"SELECT {columns} FROM {stage}{self._suffix}"
            )
            cursor.execute(f"DROP TABLE {stage}")
        return len(rows)


def _raw(field: models.Field) -> str:
    """The column as the SELECT names it. SQLite's driver would parse every timestamp (a Python
    call per value: 40,000 on a big living); as text, the caller parses each distinct one once."""
    column = quote_name(field.column)
    if connection.vendor == "sqlite" and isinstance(field, models.DateTimeField):
        return f"CAST({column} AS TEXT)"
    return column


def _same(value):
    return value


def _preparer(field: models.Field) -> Callable | None:
    """None where the Python value is what the driver takes (ints, bools, strings)."""
    if isinstance(field, models.DateTimeField):
        # The rows of one living share most of their seconds: adapt each second once.
        return functools.lru_cache(maxsize=16384)(datetime_adapter())
    if isinstance(field, models.JSONField):
        return lambda value: field.get_db_prep_save(value, connection)
    if isinstance(
        field, models.IntegerField | models.BooleanField | models.CharField | models.TextField
    ):
        return None
    if isinstance(field, models.ForeignKey) and isinstance(
        field.target_field, models.IntegerField | models.CharField
    ):
        return None
    return lambda value: field.get_db_prep_save(value, connection)
