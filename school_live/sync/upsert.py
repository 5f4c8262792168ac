"""Replace one living's rows of a table with a snapshot, compared in the database.

The snapshot's rows go into a temporary table (executemany on SQLite, COPY on PostgreSQL), and a
handful of set-based statements do the rest: drop rows a later page repeated, tell new, changed
and unchanged rows apart by joining the stored ones, delete the rows WeCom no longer lists and
upsert only the new and changed ones (``INSERT ... SELECT ... ON CONFLICT DO UPDATE``, the clause
``bulk_create(update_conflicts=True)`` writes: ``db_internals.conflict_update_sql``). The stored
rows never come into Python: a re-sync of a 100,000-row living needs no more memory than its
first sync, and a fixed number of statements, whatever the size.

Run inside the caller's transaction: a failure part-way leaves the stored rows as they were.
Measured on a 20,000-row living (``manage.py bench_sync``): bulk_create spent 0.9 s building
model instances and preparing each value, more than downloading the living (0.6 s); raw tuples,
each distinct value prepared once (living_stats.py), store it in a fraction of that. Both SQLite
(3.24+) and PostgreSQL accept every statement.
"""

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

from django.db import connection, models

from school_live.db_internals import (
    conflict_update_sql,
    copy_rows,
    datetime_adapter,
    quote_name,
)

BATCH_SIZE = 2000


@dataclass(frozen=True)
class Replaced:
    rows: int  # in the snapshot, each key once
    created: int
    updated: int
    deleted: int


class SnapshotTable:
    """``model``'s rows of one ``scope`` (e.g. a living), identified within it by ``key``."""

    def __init__(
        self,
        model: type[models.Model],
        *,
        scope: str,
        key: Sequence[str],
        values: Sequence[str],
        stage: str,
    ):
        meta = model._meta
        self._fields = {name: meta.get_field(name) for name in (scope, *key, *values)}
        self.columns = [scope, *key, *values]
        self._table = quote_name(meta.db_table)
        self._stage = quote_name(stage)
        # Only DROP names the schema: were there no temporary table, a plain name could match a
        # table of the database. Everywhere else the temporary table is found first.
        temp = "temp" if connection.vendor == "sqlite" else "pg_temp"
        self._drop = f"DROP TABLE IF EXISTS {temp}.{self._stage}"
        self._index = quote_name(f"{stage}_key")
        column = {name: quote_name(field.column) for name, field in self._fields.items()}
        self._scope = column[scope]
        self._key = [column[name] for name in key]
        self._values = [column[name] for name in values]
        self._all = [column[name] for name in self.columns]
        self._pk = quote_name(meta.pk.column)
        # A staged row s and the stored row m with its key; equal means equal as stored (the
        # driver's text on SQLite), NULL to NULL.
        same = "IS" if connection.vendor == "sqlite" else "IS NOT DISTINCT FROM"
        self._equal = " AND ".join(f"m.{c} {same} s.{c}" for c in self._values)
        self._join = f"FROM {self._stage} s LEFT JOIN {self._table} m ON " + " AND ".join(
            f"m.{c} = s.{c}" for c in (self._scope, *self._key)
        )
        self._suffix = conflict_update_sql(
            list(self._fields.values()),
            unique_fields=[self._fields[name] for name in (scope, *key)],
            update_fields=[self._fields[name] for name in values],
        )
        self._prepare = [_preparer(self._fields[name]) for name in self.columns]

    def preparer(self, column: str) -> Callable:
        """The function that turns ``column``'s Python values into what the driver takes, for
        callers that build the driver's rows themselves (and can cache per distinct value)."""
        prep = self._prepare[self.columns.index(column)]
        return prep if prep is not None else _same

    def prepare(self, values: Sequence) -> tuple:
        """Python values (in ``columns`` order) as the database driver takes them."""
        return tuple(
            value if prep is None else prep(value)
            for prep, value in zip(self._prepare, values, strict=True)
        )

    def replace(self, scope_value, rows: Iterable[tuple]) -> Replaced:
        """Make the stored rows of ``scope_value`` the given ones: ``(seq, *columns)`` tuples
        ready for the driver, where of rows with the same key the one of highest ``seq`` wins."""
        with connection.cursor() as cursor:
            self._stage_load(cursor, rows)
            cursor.execute(
                f"SELECT COUNT(*), COUNT(m.{self._pk}), "  # noqa: S608 - quoted names
                f"COALESCE(SUM(CASE WHEN m.{self._pk} IS NOT NULL AND NOT ({self._equal}) "
                f"THEN 1 ELSE 0 END), 0), "
                f"(SELECT COUNT(*) FROM {self._table} WHERE {self._scope} = %s) {self._join}",
                [scope_value],
            )
            total, matched, updated, stored = cursor.fetchone()
            created, deleted = total - matched, stored - matched
            if deleted:
                matches = " AND ".join(f"s.{c} = {self._table}.{c}" for c in self._key)
                cursor.execute(
                    f"DELETE FROM {self._table} WHERE {self._scope} = %s "  # noqa: S608
                    f"AND NOT EXISTS (SELECT 1 FROM {self._stage} s WHERE {matches})",
                    [scope_value],
                )
            if created or updated:
                cursor.execute(
                    f"INSERT INTO {self._table} ({', '.join(self._all)}) "  # noqa: S608
                    f"SELECT {', '.join(f's.{c}' for c in self._all)} {self._join} "
                    f"WHERE m.{self._pk} IS NULL OR NOT ({self._equal}){self._suffix}"
                )
            cursor.execute(self._drop)
        return Replaced(rows=total, created=created, updated=updated, deleted=deleted)

    def _stage_load(self, cursor, rows: Iterable[tuple]) -> None:
        columns = ", ".join(["seq", *self._all])
        cursor.execute(self._drop)
        if connection.vendor == "postgresql":
            cursor.execute(
                f"CREATE TEMPORARY TABLE {self._stage} ON COMMIT DROP AS "  # noqa: S608
                f"SELECT 0 AS seq, {', '.join(self._all)} "
                f"FROM {self._table} WITH NO DATA"
            )
            copy_rows(cursor, f"COPY {self._stage} ({columns}) FROM STDIN", rows)
        else:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {self._stage} AS "  # noqa: S608 - quoted names
                f"SELECT 0 AS seq, {', '.join(self._all)} "
                f"FROM {self._table} WHERE 0"
            )
            insert = (
                f"INSERT INTO {self._stage} ({columns}) "  # noqa: S608 - quoted names
                f"VALUES ({', '.join(['%s'] * (len(self._all) + 1))})"
            )
            for batch in _batches(rows, BATCH_SIZE):
                cursor.executemany(insert, batch)
        if connection.vendor == "sqlite":
            # SQLite joins through indexes (it would build one for each statement below);
            # PostgreSQL hashes the staged rows and does better without.
            cursor.execute(
                f"CREATE INDEX {self._index} ON {self._stage} ({', '.join(self._key)}, seq)"
            )
        # A row repeated on a later page: the last one wins, as WeCom's latest word.
        later = " AND ".join(f"later.{c} = {self._stage}.{c}" for c in self._key)
        cursor.execute(
            f"DELETE FROM {self._stage} WHERE EXISTS (SELECT 1 FROM {self._stage} later "  # noqa: S608
            f"WHERE {later} AND later.seq > {self._stage}.seq)"
        )


def _batches(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def _same(value):
    return value


def _preparer(field: models.Field) -> Callable | None:
    """None where the Python value is what the driver takes (ints, bools, strings)."""
    if isinstance(field, models.DateTimeField):
        # The rows of one living share most of their seconds: adapt each second once.
        return functools.lru_cache(maxsize=8192)(datetime_adapter())
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
