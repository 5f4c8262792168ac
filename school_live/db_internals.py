"""Everything that reaches past Django's documented API, in one place to check on each upgrade.

Three needs no public API meets:
- a LEFT OUTER JOIN to a grouped subquery (``join_grouped``), so that the attendance of many rows
  reads watch rows grouped once instead of correlated subqueries per row and per use
  (``attendance/verdicts.py``);
- the ``ON CONFLICT`` clause ``bulk_create(update_conflicts=True)`` writes, the driver's datetime
  value, and PostgreSQL's COPY, for the batched upserts of big watch snapshots (``sync/upsert.py``);
- which migrations a database lacks, so a command run first on a new database migrates it
  (``sync/cli.py``).

Internal APIs used, and the tests that pin them (run them on SQLite and on PostgreSQL after a
Django upgrade; each breaks loudly if the internal changes):

- ``django.db.models.sql.query.Query.join`` and ``Query.alias_map`` entries: ``JoinedQuery``
  provides what ``Query.join``, ``Query.promote_joins``/``demote_joins`` (via ``promote`` and
  ``demote``), ``Query.change_aliases`` (``relabeled_clone``) and ``SQLCompiler.get_from_clause``
  (``as_sql``) use of a ``django.db.models.sql.datastructures.Join``: ``table_name``,
  ``table_alias``, ``parent_alias``, ``join_type``, ``nullable``, ``filtered_relation``; its
  equality is the object's identity, so ``Query.join`` never reuses one for another;
- ``django.db.models.sql.constants.LOUTER``;
- ``SQLCompiler.quote_name_unless_alias`` and ``SQLCompiler.compile``;
  ``Query.get_compiler(connection=...).as_sql()`` of the grouped subquery;
- ``F.resolve_expression(query, allow_joins=True)`` to set up a lookup's joins and get its ``Col``;
- ``django.db.models.expressions.Col`` and its ``identity`` (``JoinedColumn``), and
  ``Field.set_attributes_from_name`` on a field that belongs to no model;
  pinned by tests/test_attendance.py::test_class_period_summary_gives_each_living_summary_oldest_first,
  ::test_class_period_students_counts_each_student_over_the_range,
  ::test_students_absent_repeatedly_lists_who_missed_at_least_min_count,
  ::test_students_with_falling_coverage_lists_a_steady_decline,
  ::test_queries_across_livings_take_a_fixed_number_of_queries,
  ::test_class_period_queries_skip_upcoming_and_never_synced_livings,
  ::test_weekly_digest_queries_ignore_never_synced_and_upcoming_livings,
  ::test_a_lesson_still_under_way_counts_across_livings_only_once_it_has_ended;
- ``connection.ops.on_conflict_suffix_sql`` with ``django.db.models.constants.OnConflict``,
  ``connection.ops.quote_name`` and ``connection.ops.adapt_datetimefield_value``
  (``DatabaseOperations``, undocumented);
- ``CursorWrapper.cursor`` (the driver's cursor under Django's wrapper) and psycopg 3's
  ``Cursor.copy``;
  pinned by tests/test_sync.py::test_every_page_is_stored_as_wecom_sent_it,
  ::test_row_repeated_on_two_pages_is_stored_once,
  ::test_resync_follows_wecoms_changed_numbers,
  ::test_resync_of_an_unchanged_living_changes_nothing,
  ::test_resync_repairs_rows_changed_in_the_database,
  tests/test_sync_resync.py::test_resync_creates_updates_and_deletes_only_what_wecom_changed
  (COPY only on PostgreSQL);
- ``django.db.migrations.executor.MigrationExecutor``: ``migration_plan``,
  ``loader.graph.leaf_nodes`` and ``loader.applied_migrations``;
  pinned by tests/test_commands_fresh_database.py::test_sync_living_on_a_new_database_creates_its_tables_first,
  ::test_half_migrated_database_is_left_to_the_operator.
"""

from collections.abc import Callable, Iterable, Sequence
from functools import cached_property
from typing import NamedTuple

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.migrations.executor import MigrationExecutor
from django.db.models import F, QuerySet
from django.db.models.constants import OnConflict
from django.db.models.expressions import Col
from django.db.models.sql.constants import LOUTER

# A LEFT OUTER JOIN to a grouped subquery --------------------------------------------------------


class JoinedQuery:
    """``LEFT OUTER JOIN (<grouped query>) alias ON ...`` as an entry of ``Query.alias_map``.

    Django joins tables and relations, not a grouped query. This joins e.g. the watch rows
    aggregated per (living, student) once, where correlated subqueries would run per row and per
    use (Django inlines an annotation each time another one refers to it: the verdict counted
    four ways repeats every subquery four times). It provides what ``Query.join`` and the
    compiler use: ``table_name``, ``table_alias``, ``parent_alias``, ``join_type``, ``nullable``,
    ``filtered_relation``, ``as_sql`` and ``relabeled_clone``."""

    nullable = True
    filtered_relation = None

    def __init__(self, *, subquery, table_name: str, parent_alias: str, on, table_alias=None):
        self.subquery = subquery
        self.table_name = table_name
        self.table_alias = table_alias
        self.parent_alias = parent_alias
        # ((outer expression, column of the grouped rows), ...), ANDed.
        self.on = tuple(on)
        self.join_type = LOUTER

    def as_sql(self, compiler, connection):
        inner_sql, inner_params = self.subquery.get_compiler(connection=connection).as_sql()
        alias = compiler.quote_name_unless_alias(self.table_alias)
        conditions, params = [], list(inner_params)
        for outer, column in self.on:
            outer_sql, outer_params = compiler.compile(outer)
            conditions.append(f"{outer_sql} = {alias}.{connection.ops.quote_name(column)}")
            params.extend(outer_params)
        return f"{LOUTER} ({inner_sql}) {alias} ON ({' AND '.join(conditions)})", params

    def relabeled_clone(self, change_map):
        return JoinedQuery(
            subquery=self.subquery,
            table_name=self.table_name,
            table_alias=change_map.get(self.table_alias, self.table_alias),
            parent_alias=change_map.get(self.parent_alias, self.parent_alias),
            on=[(outer.relabeled_clone(change_map), column) for outer, column in self.on],
        )

    # A student without watch rows must keep their row: the join stays LEFT OUTER whatever
    # filters come later.
    def promote(self):
        return self

    def demote(self):
        return self


class JoinedColumn(Col):
    """A column of a ``JoinedQuery``: its field belongs to no model, so it is told apart from
    the other columns by its name (``Col`` compares fields by model and name)."""

    @cached_property
    def identity(self):
        return (type(self), self.alias, self.target.column, type(self.target))


def joined_column(alias: str, name: str, field) -> Col:
    """The column ``name`` of the grouped rows joined as ``alias``, typed by ``field``."""
    field.set_attributes_from_name(name)
    return JoinedColumn(alias, field)


def join_grouped(
    queryset: QuerySet, *, grouped: QuerySet, table_name: str, on: list[tuple[str, str]]
) -> tuple[QuerySet, str]:
    """``queryset`` LEFT OUTER JOINed to the rows of ``grouped`` (a values() query) whose columns
    equal the row's lookups: ``on`` is ((lookup from the row, column of grouped), ...). Returns
    the queryset and the join's alias, for ``joined_column``."""
    queryset = queryset.all()
    query = queryset.query
    outer = [
        (F(lookup).resolve_expression(query, allow_joins=True), column) for lookup, column in on
    ]
    alias = query.join(
        JoinedQuery(
            subquery=grouped.query,
            table_name=table_name,
            parent_alias=outer[0][0].alias,
            on=outer,
        )
    )
    return queryset, alias


# Raw upserts: the conflict clause, driver values, COPY ------------------------------------------


def quote_name(name: str) -> str:
    """A table or column name quoted for the default database."""
    return connection.ops.quote_name(name)


def conflict_update_sql(
    fields: Sequence[models.Field],
    *,
    unique_fields: Sequence[models.Field],
    update_fields: Sequence[models.Field],
) -> str:
    """`` ON CONFLICT (unique) DO UPDATE SET ...``, as ``bulk_create(update_conflicts=True,
    unique_fields=..., update_fields=...)`` writes it for the default database."""
    return " " + connection.ops.on_conflict_suffix_sql(
        list(fields),
        OnConflict.UPDATE,
        [f.column for f in update_fields],
        [f.column for f in unique_fields],
    )


def datetime_adapter() -> Callable:
    """The function that turns an aware datetime into what the default database's driver
    takes (as ``DateTimeField.get_db_prep_save`` does, without the field's checks)."""
    return connection.ops.adapt_datetimefield_value


def copy_rows(cursor, sql: str, rows: Iterable[tuple]) -> None:
    """PostgreSQL: stream ``rows`` through ``sql`` (a ``COPY ... FROM STDIN``) on the psycopg
    cursor under Django's ``cursor``."""
    with cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


# Migrations -------------------------------------------------------------------------------------


class MigrationStatus(NamedTuple):
    unapplied: bool  # some migration of the code is not applied to the database
    fresh: bool  # no migration at all is applied: a brand-new database


def migration_status(using: str = DEFAULT_DB_ALIAS) -> MigrationStatus:
    """What ``migrate`` would do to the database ``using``, without doing it."""
    executor = MigrationExecutor(connections[using])
    return MigrationStatus(
        unapplied=bool(executor.migration_plan(executor.loader.graph.leaf_nodes())),
        fresh=not executor.loader.applied_migrations,
    )
