"""Re-encrypt every stored secret with the first key of SCHOOL_LIVE_ENCRYPTION_KEYS.

Generic: every model with an ``EncryptedTextField`` (schools today, their history or any later
model too) is rotated, each value on its own row with an UPDATE of that column alone (no save():
nothing else of the row changes, no signal, no history entry). A value that no configured key
opens is named and left exactly as it is; the others are rotated all the same, and the command
then exits with status 1 so that the old key is not dropped yet.
"""

from dataclasses import dataclass

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from school_live.school.cli import database_ready, encryption_ready
from school_live.school.models.encrypted import EncryptedTextField, SecretUnreadable

BATCH = 500


@dataclass
class Tally:
    rotated: int = 0
    empty: int = 0
    unreadable: int = 0


def encrypted_fields() -> list[tuple[type, list[str]]]:
    """(model, names of its encrypted columns) for every installed model that has one."""
    found = []
    for model in apps.get_models():
        names = [
            field.attname
            for field in model._meta.concrete_fields
            if isinstance(field, EncryptedTextField)
        ]
        if names and not model._meta.proxy:
            found.append((model, names))
    return found


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the first key of SCHOOL_LIVE_ENCRYPTION_KEYS. Put "
        "the new key first (the old ones after it), run this, then drop the old keys."
    )

    def handle(self, *args, **options):
        database_ready()
        encryption_ready()
        unreadable_total = 0
        for model, names in encrypted_fields():
            tallies = {name: Tally() for name in names}
            label = model._meta.label
            with transaction.atomic():
                rows = model._default_manager.select_for_update().only("pk", *names)
                for row in rows.order_by("pk").iterator(chunk_size=BATCH):
                    changed = {}
                    for name in names:
                        secret = getattr(row, name)
                        if not secret:
                            tallies[name].empty += 1
                            continue
                        try:
                            changed[name] = secret.rotated()
                        except SecretUnreadable:
                            tallies[name].unreadable += 1
                            self.stderr.write(
                                f"{label} #{row.pk} {name}: no key in "
                                "SCHOOL_LIVE_ENCRYPTION_KEYS opens it; left as it is."
                            )
                            continue
                        tallies[name].rotated += 1
                    if changed:
                        model._default_manager.filter(pk=row.pk).update(**changed)
            for name, tally in tallies.items():
                self.stdout.write(
                    f"{label}.{name}: {tally.rotated} rotated, {tally.empty} empty, "
                    f"{tally.unreadable} unreadable"
                )
                unreadable_total += tally.unreadable
        if unreadable_total:
            raise CommandError(
                f"{unreadable_total} stored value(s) could not be opened with any key (named "
                "above) and were left as they were: put back the key they were stored with and "
                "run this again, or enter those secrets again in the admin. Keep the old keys "
                "until this command ends without this message."
            )
