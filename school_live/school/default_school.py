"""The default school: the one the ``WECOM_*`` environment variables define, brought up to date
after every ``migrate`` (post_migrate, school/apps.py), so a deploy's release step, a fresh
database and the test database all have it.

It is created when missing (named ``SCHOOL_NAME``, else 学校) and afterwards only what the
environment defines is written: the name when ``SCHOOL_NAME`` is set, the corp id when
``WECOM_CORP_ID`` is, the agent id when ``WECOM_AGENT_ID`` is. A name given in the admin therefore
survives every deploy unless ``SCHOOL_NAME`` says otherwise. The corp id and agent id are copied
for display and lookup only; the secret is never stored: it is read from ``WECOM_SECRET`` when used
(``School.wecom_secret``).
"""

import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

DEFAULT_NAME = "学校"


def environment_fields() -> dict:
    """What the environment says about the default school: only the values it sets."""
    fields = {}
    if getattr(settings, "SCHOOL_NAME", ""):
        fields["name"] = settings.SCHOOL_NAME
    if settings.WECOM_CORP_ID:
        fields["corp_id"] = settings.WECOM_CORP_ID
    if settings.WECOM_AGENT_ID is not None:
        fields["agent_id"] = settings.WECOM_AGENT_ID
    return fields


def default_school_seed(apps, using: str = "default") -> tuple[object, list[str]]:
    """Create or update the default school from the environment: (the school, the fields
    written). ``apps``: an app registry (post_migrate's, or django.apps.apps)."""
    school_model = apps.get_model("school", "School")
    schools = school_model.objects.using(using)
    wanted = environment_fields()
    corp_id = wanted.get("corp_id")
    if corp_id:
        clash = schools.filter(corp_id=corp_id, from_environment=False).first()
        if clash is not None:
            raise ImproperlyConfigured(
                f"WECOM_CORP_ID is {corp_id!r}, which is also the corp id of the school "
                f"#{clash.pk} added with add_school. One corp is one school: either unset the "
                "WECOM_* variables (the school then keeps its own stored settings) or give that "
                "school another corp id in the admin."
            )
    school = schools.filter(from_environment=True).first()
    if school is None:
        school = schools.create(
            from_environment=True, **{"name": DEFAULT_NAME, "corp_id": "", **wanted}
        )
        return school, ["created"]
    changed = [name for name, value in wanted.items() if getattr(school, name) != value]
    if changed:
        for name in changed:
            setattr(school, name, wanted[name])
        school.save(using=using, update_fields=changed)
    return school, changed


def default_school_after_migrate(
    sender, *, using="default", apps=None, verbosity=1, **kwargs
) -> None:
    """post_migrate: bring the default school up to date once its table is there. ``apps``: the
    migrated state's registry; a flush (TransactionTestCase) sends none: the installed apps."""
    if apps is None:
        from django.apps import apps
    try:
        apps.get_model("school", "School")
    except LookupError:
        return  # a partial migrate that stopped before the School model
    school, changed = default_school_seed(apps, using)
    if changed and verbosity >= 1:
        logger.info("default school #%s (%s): %s", school.pk, school.name, ", ".join(changed))
