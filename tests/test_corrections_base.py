"""The corrections share one abstract base (issue 21): the excuse and the nickname claim keep
their own words for the audit fields, their history and their ``active()`` queryset."""

import pytest
from django.utils import translation

from school_live.corrections.models import Excuse, NicknameClaim, RevocableCorrection

LABELS = {
    Excuse: ["marked by", "marked at", "revoked at", "revoked by"],
    NicknameClaim: ["claimed by", "claimed at", "removed at", "removed by"],
}
AUDIT = ["created_by", "created_at", "revoked_at", "revoked_by"]


@pytest.mark.parametrize("model", [Excuse, NicknameClaim])
def test_both_corrections_are_revocable_corrections_with_their_own_labels(model):
    assert issubclass(model, RevocableCorrection)
    historical = model.history.model
    with translation.override("en"):
        labels = [str(model._meta.get_field(name).verbose_name) for name in AUDIT]
        history_labels = [str(historical._meta.get_field(name).verbose_name) for name in AUDIT]
    assert labels == history_labels == LABELS[model]
    assert model._meta.get_field("revoked_by").remote_field.related_name == "+"


@pytest.mark.parametrize("model", [Excuse, NicknameClaim])
def test_active_and_is_active_come_from_the_base(model):
    assert model.objects.active().query.where.children[0].lhs.target.name == "revoked_at"
    assert model(revoked_at=None).is_active
    assert not model(revoked_at="2026-03-02T08:00:00+08:00").is_active
