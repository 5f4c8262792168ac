"""create_auth and reset_permanent_code: an AuthCode becomes a school's secret (api.md §18.6-18.7,
§18.10).

``get_permanent_code`` spends the AuthCode, so what it answers is stored at once, in one
transaction, whatever comes after: the school (found by the corp id WeCom gives, else by the
install link's ``state``, else made from WeCom's corp name) gets its corp id (exactly as given),
agent id and secret (encrypted at rest) and is active; its authorisation is recorded; on an
install the admin who scanned becomes a school admin. Then, each on its own and never undoing
the install: the tokens of an older secret are forgotten, agent/get's publication state is read,
the first roster sync is queued and the admin is sent a WeCom message linking to the set-up check.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from school_live.school.models import School, SchoolMembership, from_unix
from school_live.wecom.client import WeComClient, school_client
from school_live.wecom.errors import WeComError
from school_live.wecom.suite import school_tokens_forget
from school_live.wecom.suite_records import AuthUser, PermanentCode

from .models import InstallLink, SchoolAudit, SchoolAuthorization, SuiteEvent, audit
from .suite import EventFailed, suite_client

logger = logging.getLogger(__name__)

# Where the welcome message sends the new school's admin: the set-up check when it is there
# (h24), else the admin's index.
SETUP_CHECK_URL_NAMES = ("admin:setup_check_setupcheck_changelist", "admin:index")


def permanent_code_apply(row: SuiteEvent) -> School:
    """The event's AuthCode → the school's secret; see the module docstring."""
    with suite_client() as suite:
        permanent = suite.permanent_code(row.auth_code.reveal())
    old_client = None
    with transaction.atomic():
        school, event, old_client = _authorization_store(row, permanent)
        row.school = school
    if old_client is not None:
        with old_client:
            school_tokens_forget(old_client)
    publish_status_read(school)
    if row.kind == SuiteEvent.Kind.CREATE_AUTH:
        roster_sync_start(school)
        welcome_send(school)
    logger.info("school %s (%s): %s", school.pk, school.corp_id, event)
    return school


def _school_for(permanent: PermanentCode, row: SuiteEvent) -> tuple[School, InstallLink | None]:
    corp_id = permanent.corp.corpid
    school = School.objects.select_for_update().filter(corp_id=corp_id).first()
    if school is not None:
        if school.from_environment:
            raise EventFailed(
                f"the corp {corp_id} is the default school's (WECOM_CORP_ID), whose secret comes "
                "from WECOM_SECRET: its 代开发 secret was not stored. Move that school off the "
                "environment first, then reset the secret (重新获取secret) in 服务商后台."
            )
        return school, None
    state = permanent.state or row.state
    link = None
    if state:
        link = (
            InstallLink.objects.select_for_update()
            .select_related("school")
            .filter(state=state, school__status=School.Status.PENDING)
            .first()
        )
    if link is not None:
        return link.school, link
    name = (permanent.corp.corp_name or permanent.corp.corp_full_name or corp_id)[:200]
    return School(name=name, status=School.Status.PENDING), None


def _authorization_store(row: SuiteEvent, permanent: PermanentCode):
    school, link = _school_for(permanent, row)
    now = timezone.now()
    was = school.status if school.pk else None
    old_client = None
    if school.pk and school.corp_id and school.secret:
        old_client = WeComClient.for_school(school)  # its cached tokens go once this commits
    agent = permanent.agent
    school.corp_id = permanent.corp.corpid
    school.secret = permanent.permanent_code
    if agent is not None:
        school.agent_id = agent.agentid
    if school.status != School.Status.ACTIVE:
        school.status = School.Status.ACTIVE
        school.status_changed_at = now
    school.save()
    if link is not None:
        link.used_at = now
        link.save(update_fields=["used_at"])
    installing = row.kind == SuiteEvent.Kind.CREATE_AUTH
    # WeCom's time of the install: a cancel_auth sent before it (out of order) is older.
    installed_at = from_unix(row.wecom_timestamp) or now
    authorization = SchoolAuthorization.objects.filter(school=school).first()
    if authorization is None:
        authorization = SchoolAuthorization(school=school, installed_at=installed_at)
    elif installing:
        authorization.installed_at = installed_at
    authorization.suite_id = row.suite_id
    authorization.corp_name = permanent.corp.corp_name[:200]
    authorization.corp_full_name = permanent.corp.corp_full_name[:200]
    authorization.agent_name = agent.name[:200] if agent else ""
    authorization.privilege = agent.privilege.as_json() if agent else {}
    authorization.refreshed_at = now
    authorization.cancelled_at = None
    if installing and permanent.user is not None:
        authorization.admin_userid = permanent.user.userid or permanent.user.open_userid
        authorization.admin_name = permanent.user.name[:100]
    authorization.save()
    if installing and permanent.user is not None:
        school_admin_ensure(school, permanent.user)
    if not installing:
        event = SchoolAudit.Event.SECRET_RESET
    elif was is None or was == School.Status.PENDING:
        event = SchoolAudit.Event.INSTALLED
    else:
        event = SchoolAudit.Event.REINSTALLED
    detail = "" if link is not None or not installing else _no_link_detail(permanent)
    audit(school, event, detail=detail, by="WeCom")
    return school, event, old_client


def _no_link_detail(permanent: PermanentCode) -> str:
    if permanent.state:
        return f"the install link (state {permanent.state}) was used already or is gone"
    return "installed without an install link"


def school_admin_ensure(school: School, user: AuthUser):
    """The admin who scanned, as a school admin of ``school``: their Django user (named by their
    WeCom userid; ``userid@<school id>`` when another school's user has that name), staff, with
    no usable password until an admin sets one or WeCom sign-in is used."""
    userid = user.userid or user.open_userid
    User = get_user_model()
    account = User.objects.filter(
        username=userid, school_membership__school=school, is_superuser=False
    ).first()
    if account is None:
        username = userid if not User.objects.filter(username=userid).exists() else None
        username = username or f"{userid}@{school.pk}"
        account, _created = User.objects.get_or_create(
            username=username[:150],
            defaults={"password": make_password(None), "first_name": user.name[:150]},
        )
    account.is_staff = True
    account.is_active = True
    account.save(update_fields=["is_staff", "is_active"])
    SchoolMembership.objects.update_or_create(
        user=account, defaults={"school": school, "role": SchoolMembership.Role.SCHOOL_ADMIN}
    )
    return account


def publish_status_read(school: School) -> None:
    """agent/get's customized_publish_status (2: 已上线), kept on the authorisation."""
    try:
        with school_client(school=school) as client:
            status = client.get_agent().customized_publish_status
    except WeComError as error:
        logger.info("school %s: agent/get failed: %s", school.pk, error)
        return
    SchoolAuthorization.objects.filter(school=school).update(publish_status=status)


def roster_sync_start(school: School) -> None:
    """The new school's first full sync (roster, then its lessons), queued on the workers.

    The one call site of the install flow's sync."""
    from school_live.sync.triggers import school_sync_request

    run, created = school_sync_request(school=school)
    logger.info("school %s: sync run %s %s", school.pk, run.pk, "queued" if created else "running")


def setup_check_url() -> str:
    for name in SETUP_CHECK_URL_NAMES:
        try:
            return settings.SITE_URL + reverse(name)
        except NoReverseMatch:
            continue
    return settings.SITE_URL + "/admin/"


def welcome_send(school: School) -> None:
    """A WeCom message to the admin who installed: school_live is there, check the set-up."""
    authorization = SchoolAuthorization.objects.get(school=school)
    if not authorization.admin_userid:
        authorization.welcome_error = _("WeCom did not say who installed the app.")
        authorization.save(update_fields=["welcome_error"])
        return
    with translation.override(settings.LANGUAGE_CODE):
        card = {
            "title": _("school_live is installed"),
            "description": _(
                "%(school)s can now use school_live. Open the set-up check to see that the app "
                "is set up right in WeCom before the first lesson."
            )
            % {"school": school.name},
            "url": setup_check_url(),
            "btntxt": _("Set-up check"),
        }
    try:
        with school_client(school=school) as client:
            client.send_message(
                touser=[authorization.admin_userid], msgtype="textcard", body={"textcard": card}
            )
    except WeComError as error:
        logger.warning("school %s: the welcome message failed: %s", school.pk, error)
        authorization.welcome_error = str(error)[:2000]
        authorization.save(update_fields=["welcome_error"])
        return
    authorization.welcome_sent_at = timezone.now()
    authorization.welcome_error = ""
    authorization.save(update_fields=["welcome_sent_at", "welcome_error"])
