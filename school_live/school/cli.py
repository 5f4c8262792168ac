"""What the school commands (add_school, rotate_encryption_keys) check before they start: the
database is migrated and an encryption key is configured; each failure is one line saying what
to do, never a traceback."""

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

from .models.encrypted import fernet


def database_ready() -> None:
    """Raise ``CommandError`` unless every migration is applied."""
    try:
        executor = MigrationExecutor(connection)
        unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CommandError(
            f"Cannot open the database ({reason}). Point DATABASE_URL at the site's database "
            "and run this command again."
        ) from None
    if unapplied:
        raise CommandError(
            "The database has migrations that are not applied yet. Run `python manage.py "
            "migrate`, then run this command again."
        )


def encryption_ready() -> None:
    """Raise ``CommandError`` unless SCHOOL_LIVE_ENCRYPTION_KEYS holds usable keys."""
    try:
        fernet()
    except ImproperlyConfigured as error:
        raise CommandError(str(error)) from None
