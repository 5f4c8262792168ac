from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    # The default cache is the database cache (an atomic add() shared by every process for the
    # token and sync locks); its table must exist as soon as migrate has run.
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("school", "0001_initial")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
