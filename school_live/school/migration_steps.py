"""Steps the migrations that gave every school-owned row its school share (issue 22).

Rows stored before there were schools belong to the default school (the one the ``WECOM_*``
settings define), made as every migrate makes it (``default_school_seed``) when the first such row
is found. The functions take the migration's ``apps``, never the models of the code, which may
have moved on since.
"""

from django.core.management.color import no_style
from django.db import migrations, models

from school_live.school.default_school import default_school_seed


def rows_into_default_school(app_label: str, *model_names: str):
    """A RunPython step: every row of the models without a school joins the default school."""

    def forward(apps, schema_editor):
        models = [apps.get_model(app_label, name) for name in model_names]
        orphans = [model.objects.filter(school__isnull=True) for model in models]
        if not any(rows.exists() for rows in orphans):
            return
        school_model = apps.get_model("school", "School")
        school = school_model.objects.filter(from_environment=True).first()
        if school is None:
            school, _written = default_school_seed(apps, schema_editor.connection.alias)
        for rows in orphans:
            rows.update(school=school)
        if schema_editor.connection.vendor == "postgresql":
            # The new foreign keys are checked at commit; the same migration then alters these
            # tables, which PostgreSQL refuses while checks are pending: check them now.
            schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")

    return forward


def sequences_past_max(app_label: str, *model_names: str):
    """A RunPython step: the auto primary keys of the models continue past the largest stored
    one (PostgreSQL starts a new identity at 1; SQLite continues by itself)."""

    def forward(apps, schema_editor):
        connection = schema_editor.connection
        models = [apps.get_model(app_label, name) for name in model_names]
        for sql in connection.ops.sequence_reset_sql(no_style(), models):
            schema_editor.execute(sql)

    return forward


def school_foreign_key(*, null: bool, db_index: bool = True):
    """The ``school`` column as ``models.fields.school_field`` declares it (optional while the
    rows are filled)."""
    return models.ForeignKey(
        null=null,
        db_index=db_index,
        on_delete=models.deletion.CASCADE,
        related_name="+",
        to="school.school",
        verbose_name="school",
    )


def history_school_foreign_key():
    """The ``school`` column of a django-simple-history table: no constraint, optional."""
    return models.ForeignKey(
        blank=True,
        db_constraint=False,
        null=True,
        on_delete=models.deletion.DO_NOTHING,
        related_name="+",
        to="school.school",
        verbose_name="school",
    )


def school_columns(app_label: str, *model_names: str, history: tuple[str, ...] = ()) -> list:
    """The operations that give the models (and their history tables) their ``school``: added
    optional, filled with the default school, then required."""
    return [
        *[
            migrations.AddField(
                model_name=name.lower(), name="school", field=school_foreign_key(null=True)
            )
            for name in model_names
        ],
        *[
            migrations.AddField(
                model_name=name.lower(), name="school", field=history_school_foreign_key()
            )
            for name in history
        ],
        migrations.RunPython(
            rows_into_default_school(app_label, *model_names, *history), migrations.RunPython.noop
        ),
        *[
            migrations.AlterField(
                model_name=name.lower(), name="school", field=school_foreign_key(null=False)
            )
            for name in model_names
        ],
    ]
