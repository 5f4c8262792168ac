"""A school's data as ``dumpdata`` writes it (a JSON list of {"model", "pk", "fields"}), for an
operator to keep before an uninstalled school is purged.

What is exported: the School row, every row of every model with a foreign key to School (after
the tenant work, every school-owned model) and the logins of its members. Secrets are never in
it: every encrypted field (the school's secret and callback keys, a stored AuthCode) and every
password are left out.
"""

import json

from django.contrib.auth import get_user_model
from django.core import serializers
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from school_live.school.models import School
from school_live.school.models.encrypted import EncryptedTextField

from .lifecycle import school_owned_models

USER_FIELDS = ("username", "first_name", "last_name", "email", "is_staff", "is_active",
               "date_joined")  # fmt: skip


def _public_fields(model: type[models.Model]) -> list[str]:
    return [
        field.name
        for field in model._meta.concrete_fields
        if not field.primary_key and not isinstance(field, EncryptedTextField)
    ]


def _rows(queryset, fields) -> list[dict]:
    return serializers.serialize("python", queryset.order_by("pk"), fields=fields)


def school_export(school: School) -> list[dict]:
    rows = _rows(School.objects.filter(pk=school.pk), _public_fields(School))
    for model, field in school_owned_models():
        rows += _rows(model.objects.filter(**{field: school}), _public_fields(model))
    users = get_user_model().objects.filter(school_membership__school=school)
    rows += _rows(users, USER_FIELDS)
    return rows


def school_export_json(school: School) -> str:
    return json.dumps(school_export(school), cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
