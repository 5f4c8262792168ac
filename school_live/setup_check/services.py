"""Run the WeCom set-up check for a school, store its lines, and tell the school's admins when
the result changed (not on every run)."""

import logging

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from school_live.school.models import Living, School
from school_live.wecom.client import WeComClient
from school_live.wecom.setup_probes import CheckInputs, ProbeLine, setup_probe

from .models import DomainVerificationFile, SchoolWeComState, SetupCheck
from .notify import change_tell

logger = logging.getLogger(__name__)

OUTCOME_MAX = 500


def _of_school(queryset, school: School):
    """Rows of ``school`` where the model records its school; all rows where it does not yet
    (a deployment of one school)."""
    try:
        queryset.model._meta.get_field("school")
    except FieldDoesNotExist:
        return queryset
    return queryset.filter(school=school)


def newest_created_livingid(school: School) -> str:
    """The newest lesson school_live created (through its lessons, or read back from WeCom,
    which shows an app only its own lessons); "" when there is none."""
    livings = _of_school(Living.objects.all(), school).filter(
        Q(occurrence__isnull=False) | Q(info_synced_at__isnull=False)
    )
    living = livings.order_by(F("living_start").desc(nulls_last=True), "-pk").first()
    return living.livingid if living is not None else ""


def _iso(moment) -> str:
    return moment.isoformat() if moment is not None else ""


def check_inputs(school: School) -> CheckInputs:
    state = SchoolWeComState.objects.filter(school=school).first()
    return CheckInputs(
        livingid=newest_created_livingid(school),
        site_url=settings.SITE_URL,
        last_sign_in=_iso(state and state.last_sign_in_at),
        last_callback=_iso(state and state.last_callback_at),
        callback_configured=all(school.wecom_callback_keys()),
        callback_url=settings.SITE_URL + reverse("wecom_callback"),
        domain_files=tuple(
            DomainVerificationFile.objects.filter(school=school).values_list("name", flat=True)
        ),
    )


def outcome_of(lines: list[ProbeLine]) -> str:
    """The failures of a run in one comparable string ("" when all passed)."""
    failed = sorted(
        f"{line.key}:{line.errcode if line.errcode is not None else line.reason}"
        for line in lines
        if line.failed
    )
    return ",".join(failed)[:OUTCOME_MAX]


def school_wecom_client(school: School, **options) -> WeComClient:
    return WeComClient(
        corp_id=school.wecom_corp_id,
        secret=school.wecom_secret(),
        agent_id=school.wecom_agent_id,
        **options,
    )


def setup_check_run(
    *, school: School, trigger: str, user=None, client_options: dict | None = None
) -> SetupCheck:
    """Probe the school's WeCom set-up now; store the run; tell its admins if the result is
    not the one they were last told of. ``client_options`` go to the WeComClient."""
    started = timezone.now()
    lines = setup_probe(
        lambda: school_wecom_client(school, **(client_options or {})), check_inputs(school)
    )
    outcome = outcome_of(lines)
    with transaction.atomic():
        check = SetupCheck.objects.create(
            school=school,
            started_at=started,
            finished_at=timezone.now(),
            trigger=trigger,
            triggered_by=user if user is not None and user.is_authenticated else None,
            ok=not outcome,
            outcome=outcome,
            lines=[line.as_json() for line in lines],
        )
        # Locked: two runs at once (the schedule and an admin) tell of one change once.
        state, _created = SchoolWeComState.objects.select_for_update().get_or_create(school=school)
        state.last_check = check
        if outcome != state.notified_outcome and change_tell(school=school, check=check):
            state.notified_outcome = outcome
            state.notified_at = timezone.now()
        state.save()
    logger.info("WeCom set-up check of school #%s: %s", school.pk, outcome or "passed")
    return check
