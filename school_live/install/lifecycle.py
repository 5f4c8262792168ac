"""A school's life after the install (api.md §18.8-18.9): re-authorised, uninstalled, purged.

- ``change_auth`` (visible range, permissions, the app disabled or enabled again):
  ``get_auth_info`` is read again and stored, and agent/get's publication state with it.
- ``cancel_auth``: the school is uninstalled at once — its status (``is_serving`` turns false:
  syncs, reminders and reports stop), when, and its cached tokens forgotten — and its data is
  kept ``SCHOOL_PURGE_AFTER_DAYS`` days so that an operator can export it (export_school). A
  cancel older than the school's last install (events out of order) changes nothing.
- The daily purge deletes each school uninstalled longer ago than that: the School row and, by
  its CASCADE foreign keys, every row it owns, and the logins of its members; an audit line
  with the counts stays.
"""

import datetime as dt
import logging

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.utils import timezone

from school_live.school.models import School, from_unix
from school_live.wecom.client import WeComClient
from school_live.wecom.suite import school_tokens_forget

from .installs import publish_status_read
from .models import SchoolAudit, SchoolAuthorization, SuiteEvent, audit
from .suite import EventIgnored, suite_client

logger = logging.getLogger(__name__)


def _school_of_corp(row: SuiteEvent) -> School:
    school = (
        School.objects.filter(corp_id=row.auth_corp_id, from_environment=False)
        .exclude(status=School.Status.PENDING)
        .first()
    )
    if school is None:
        raise EventIgnored(f"no school has the corp id {row.auth_corp_id}")
    row.school = school
    return school


def authorization_refresh(row: SuiteEvent) -> School:
    """change_auth: read the authorisation again and keep it."""
    school = _school_of_corp(row)
    if school.status == School.Status.UNINSTALLED:
        raise EventIgnored("the school uninstalled the app")
    with suite_client() as suite:
        info = suite.auth_info(corp_id=school.corp_id, permanent_code=school.secret.reveal())
    now = timezone.now()
    agent = info.agent
    with transaction.atomic():
        authorization, _created = SchoolAuthorization.objects.get_or_create(
            school=school,
            defaults={"suite_id": row.suite_id, "installed_at": now, "refreshed_at": now},
        )
        authorization.corp_name = info.corp.corp_name[:200]
        authorization.corp_full_name = info.corp.corp_full_name[:200]
        if agent is not None:
            authorization.agent_name = agent.name[:200]
            authorization.privilege = agent.privilege.as_json()
            if agent.agentid != school.agent_id:
                School.objects.filter(pk=school.pk).update(agent_id=agent.agentid)
        authorization.refreshed_at = now
        authorization.save()
        audit(school, SchoolAudit.Event.REAUTHORISED, detail=_range(authorization), by="WeCom")
    publish_status_read(school)
    return school


def _range(authorization: SchoolAuthorization) -> str:
    privilege = authorization.privilege or {}
    return (
        f"departments {privilege.get('allow_party', [])}, "
        f"{len(privilege.get('allow_user', []))} members, tags {privilege.get('allow_tag', [])}"
    )


def school_cancel(row: SuiteEvent) -> School:
    """cancel_auth: the school is uninstalled (its data kept until the purge)."""
    school = _school_of_corp(row)
    authorization = SchoolAuthorization.objects.filter(school=school).first()
    sent_at = from_unix(row.wecom_timestamp)
    if authorization is not None and sent_at and sent_at < authorization.installed_at:
        raise EventIgnored("the cancel is older than the school's last install")
    if school.status == School.Status.UNINSTALLED:
        raise EventIgnored("the school is uninstalled already")
    school_uninstall(school, by="WeCom")
    return school


def school_uninstall(school: School, *, by: str) -> None:
    """Stop serving the school now: status, when, its tokens forgotten, an audit line."""
    now = timezone.now()
    with transaction.atomic():
        School.objects.filter(pk=school.pk).update(
            status=School.Status.UNINSTALLED, status_changed_at=now
        )
        SchoolAuthorization.objects.filter(school=school).update(cancelled_at=now)
        school.status, school.status_changed_at = School.Status.UNINSTALLED, now
        days = settings.SCHOOL_PURGE_AFTER_DAYS
        audit(school, SchoolAudit.Event.UNINSTALLED, detail=f"data purged after {days} days", by=by)
    if school.corp_id and school.secret:
        with WeComClient.for_school(school) as client:
            school_tokens_forget(client)


# --- the purge ------------------------------------------------------------------------------------


def school_owned_models() -> list[tuple[type[models.Model], str]]:
    """(model, field name) of every model with a foreign key (or one-to-one) to School: what a
    school owns, deleted with it by CASCADE, counted for the audit and exported."""
    found = []
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if (
                isinstance(field, models.ForeignKey)
                and field.related_model is School
                and field.concrete
            ):
                found.append((model, field.name))
    return sorted(found, key=lambda item: item[0]._meta.label)


def purge_due_before(now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) - dt.timedelta(days=settings.SCHOOL_PURGE_AFTER_DAYS)


def schools_purge_due(*, now: dt.datetime | None = None) -> list[int]:
    """Purge every school uninstalled longer than SCHOOL_PURGE_AFTER_DAYS ago; their ids."""
    due = School.objects.filter(
        status=School.Status.UNINSTALLED,
        from_environment=False,
        status_changed_at__lt=purge_due_before(now),
    )
    purged = []
    for school_id in due.values_list("pk", flat=True):
        if school_purge(school_id=school_id):
            purged.append(school_id)
    return purged


def _protects(model: type[models.Model]) -> bool:
    return any(
        field.remote_field.on_delete is models.PROTECT
        for field in model._meta.fields
        if field.is_relation and field.remote_field is not None
    )


def school_purge(*, school_id: int) -> bool:
    """Delete an uninstalled school, all it owns and its members' logins; an audit line stays.
    False when the school is gone or serves again (installed anew in the meantime)."""
    with transaction.atomic():
        school = School.objects.select_for_update().filter(pk=school_id).first()
        if school is None or school.status != School.Status.UNINSTALLED:
            return False
        counts = {
            model._meta.label: model.objects.filter(**{field: school}).count()
            for model, field in school_owned_models()
        }
        logins = get_user_model().objects.filter(
            school_membership__school=school, is_superuser=False
        )
        detail = ", ".join(f"{label} {count}" for label, count in counts.items() if count)
        audit(school, SchoolAudit.Event.PURGED, detail=detail, by="school_live")
        logins.delete()
        owned = school_owned_models()
        # Rows that protect what they name (an excuse its student, a series its teacher) would
        # stop the school's cascade: they go first.
        for model, field in owned:
            if _protects(model):
                model.objects.filter(**{field: school}).delete()
        school.delete()
        # History tables keep their school without a constraint (and the cascade just wrote
        # its deletions there): their rows of the school go last.
        for model, field in owned:
            if model._meta.get_field(field).remote_field.on_delete is models.DO_NOTHING:
                model.objects.filter(**{f"{field}_id": school_id}).delete()
    logger.info("school %s purged: %s", school_id, detail)
    return True
