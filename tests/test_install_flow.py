"""A school installs school_live through WeCom's 代开发 flow, end to end on real parts: the
sandbox's vendor POSTs its command events to a real server (live_server), which answers within
WeCom's 1000 ms and stores them; the task's work then runs here (tests/test_install_worker.py
lets a real worker run it)."""

import datetime as dt
import io
import json

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from school_live.install.events import suite_event_process
from school_live.install.lifecycle import schools_purge_due
from school_live.install.links import install_link_make
from school_live.install.models import (
    InstallLink,
    SchoolAudit,
    SchoolAuthorization,
    SuiteEvent,
)
from school_live.school.models import School, SchoolMembership, SyncRun
from school_live.wecom.client import WeComClient
from school_live.wecom.errors import WeComTransientError
from tests.fixtures.install import CALLBACK_PATH

# The live server writes what the vendor posts while this thread works on it: on SQLite, a file.
pytestmark = pytest.mark.threads


def answered_in_time(entry: dict) -> dict:
    assert entry["http_status"] == 200 and entry["body"] == "success", entry
    assert entry["elapsed_ms"] < 1000, entry
    return entry


def process_new_events() -> list[SuiteEvent]:
    """What the worker does with each stored event."""
    pending = SuiteEvent.objects.filter(status=SuiteEvent.Status.RECEIVED).order_by("pk")
    return [suite_event_process(event_id=pk) for pk in list(pending.values_list("pk", flat=True))]


def install(live_suite, name="新学校") -> School:
    link = install_link_make(name=name)
    answered_in_time(live_suite.vendor.scan(link.qrcode_url, corp=live_suite.school_corp))
    [event] = process_new_events()
    assert event.status == SuiteEvent.Status.DONE, event.error
    return School.objects.get(pk=link.school_id)


def audit_events(school: School) -> list[str]:
    return list(
        SchoolAudit.objects.filter(school_pk=school.pk)
        .order_by("at", "pk")
        .values_list("event", flat=True)
    )


def test_the_url_check_and_a_ticket_arrive_before_anything_else(live_suite):
    vendor = live_suite.vendor
    assert answered_in_time(vendor.log[-1])["info_type"] == "suite_ticket"
    assert vendor.verify_url()["ok"]
    vendor.configure(get_receive_id="suite")
    assert vendor.verify_url()["ok"]


def test_a_scanned_install_link_installs_its_pending_school(live_suite):
    link = install_link_make(name="阳光二小")
    school = link.school
    assert school.status == School.Status.PENDING and not school.is_serving
    assert link.expires_at - timezone.now() > dt.timedelta(days=9, hours=23)

    vendor, corp = live_suite.vendor, live_suite.school_corp
    answered_in_time(vendor.scan(link.qrcode_url, corp=corp))
    stored = SuiteEvent.objects.get()
    assert stored.status == SuiteEvent.Status.RECEIVED and stored.state == link.state
    [done] = process_new_events()
    assert done.status == SuiteEvent.Status.DONE and done.school_id == school.pk
    assert done.auth_code.reveal() == ""  # spent: not kept

    school.refresh_from_db()
    install = vendor.installs[corp]
    assert school.name == "阳光二小" and school.corp_id == corp  # exactly as WeCom gave it
    assert school.status == School.Status.ACTIVE and school.is_serving
    assert school.agent_id == live_suite.district[corp].agent_id
    assert school.secret.reveal() == install.permanent_code
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM school_school WHERE id = %s", [school.pk])
        assert install.permanent_code not in cursor.fetchone()[0]  # encrypted at rest
    link.refresh_from_db()
    assert link.used_at is not None

    admin = get_user_model().objects.get(username=install.admin)
    membership = SchoolMembership.objects.get(user=admin)
    assert membership.school == school and membership.role == SchoolMembership.Role.SCHOOL_ADMIN
    assert admin.is_staff and not admin.is_superuser and not admin.has_usable_password()

    authorization = SchoolAuthorization.objects.get(school=school)
    assert authorization.admin_userid == install.admin
    assert authorization.publish_status == 1  # agent/get: 开发中
    assert authorization.privilege["allow_party"] == [1]
    assert authorization.welcome_sent_at is not None, authorization.welcome_error
    [message] = live_suite.district[corp].sent_messages
    assert message["recipients"] == [install.admin]
    assert message["body"]["textcard"]["url"].endswith("/admin/setup_check/setupcheck/")
    assert message["body"]["textcard"]["title"] == "school_live 已安装"

    assert SyncRun.objects.filter(kind=SyncRun.Kind.SCHOOL).count() == 1  # the first sync
    assert audit_events(school) == ["link_made", "installed"]


def test_the_same_auth_code_twice_installs_once(live_suite):
    school = install(live_suite)
    again = answered_in_time(live_suite.vendor.resend())  # the create_auth, sealed afresh
    assert again["info_type"] == "create_auth"
    assert SuiteEvent.objects.count() == 1 and process_new_events() == []
    assert audit_events(school).count("installed") == 1
    assert SchoolMembership.objects.filter(school=school).count() == 1


def test_a_forged_event_changes_nothing(live_suite, live_server):
    vendor = live_suite.vendor
    before = SuiteEvent.objects.count(), School.objects.count()
    vendor.credentials = type(vendor.credentials)(
        **{**vendor.credentials.__dict__, "token": "a-forger-does-not-know-the-token"}
    )
    link_state = "forged1"
    vendor.qr["https://forged.example/qr"] = (link_state, 10**12)
    entry = vendor.scan("https://forged.example/qr", corp=live_suite.school_corp)
    assert entry["http_status"] == 400
    assert (SuiteEvent.objects.count(), School.objects.count()) == before
    garbage = requests.post(
        f"{live_server.url}{CALLBACK_PATH}?msg_signature=x&timestamp=1&nonce=2",
        data=b"<xml>",
        timeout=5,
    )
    assert garbage.status_code == 400


def test_cancel_uninstalls_the_school_at_once_and_drops_its_token(live_suite):
    school = install(live_suite)
    client = WeComClient.for_school(school)
    assert client.get_access_token()
    assert client.cache.get(client._token_key)

    answered_in_time(live_suite.vendor.cancel(live_suite.school_corp))
    [done] = process_new_events()
    assert done.status == SuiteEvent.Status.DONE
    school.refresh_from_db()
    assert school.status == School.Status.UNINSTALLED and not school.is_serving
    assert school.status_changed_at is not None
    assert school not in School.objects.serving()
    assert client.cache.get(client._token_key) is None
    assert SchoolAuthorization.objects.get(school=school).cancelled_at is not None
    assert audit_events(school)[-1] == "uninstalled"


def test_reset_stores_the_new_secret_and_drops_the_old_token(live_suite):
    school = install(live_suite)
    old = WeComClient.for_school(school)
    old.get_access_token()
    answered_in_time(live_suite.vendor.reset(live_suite.school_corp))
    [done] = process_new_events()
    assert done.status == SuiteEvent.Status.DONE and done.school_id == school.pk
    school.refresh_from_db()
    new_code = live_suite.vendor.installs[live_suite.school_corp].permanent_code
    assert school.secret.reveal() == new_code and school.is_serving
    assert old.cache.get(old._token_key) is None
    assert WeComClient.for_school(school).get_access_token()
    assert audit_events(school)[-1] == "secret_reset"


def test_change_auth_reads_the_authorisation_again(live_suite):
    school = install(live_suite)
    before = SchoolAuthorization.objects.get(school=school).refreshed_at
    live_suite.district[live_suite.school_corp].set_setup(customized_publish_status=2)  # 上线
    answered_in_time(live_suite.vendor.change(live_suite.school_corp))
    [done] = process_new_events()
    assert done.status == SuiteEvent.Status.DONE
    authorization = SchoolAuthorization.objects.get(school=school)
    assert authorization.refreshed_at > before and authorization.publish_status == 2
    assert audit_events(school)[-1] == "reauthorised"


def test_an_install_without_the_admin_named_still_installs(live_suite):
    live_suite.vendor.configure(auth_user="absent")
    school = install(live_suite)
    assert school.is_serving and not SchoolMembership.objects.filter(school=school).exists()
    authorization = SchoolAuthorization.objects.get(school=school)
    assert authorization.welcome_sent_at is None and authorization.welcome_error


def test_a_second_corp_scanning_a_used_link_gets_a_school_of_its_own(live_suite):
    link = install_link_make(name="第一所")
    vendor = live_suite.vendor
    answered_in_time(vendor.scan(link.qrcode_url, corp=live_suite.school_corp))
    first_corp = live_suite.district.corp_ids[0]
    answered_in_time(vendor.scan(link.qrcode_url, corp=first_corp))
    assert [e.status for e in process_new_events()] == ["done", "done"]
    other = School.objects.get(corp_id=first_corp)
    assert other.pk != link.school_id and other.name == live_suite.district[first_corp].school.name
    assert "used already" in SchoolAudit.objects.get(school_pk=other.pk, event="installed").detail


def test_a_cancel_older_than_the_last_install_changes_nothing(live_suite):
    school = install(live_suite)
    SchoolAuthorization.objects.filter(school=school).update(
        installed_at=timezone.now() + dt.timedelta(minutes=5)
    )
    answered_in_time(live_suite.vendor.cancel(live_suite.school_corp))
    [event] = process_new_events()
    assert event.status == SuiteEvent.Status.IGNORED and "older" in event.error
    school.refresh_from_db()
    assert school.is_serving


@pytest.mark.parametrize("kind", ["cancel", "change"])
def test_an_event_for_a_corp_no_school_has_is_ignored(live_suite, kind):
    vendor, corp = live_suite.vendor, live_suite.school_corp
    install(live_suite)
    School.objects.filter(corp_id=corp).update(corp_id="wpSomeoneElse")
    answered_in_time(getattr(vendor, kind)(corp))
    [event] = process_new_events()
    assert event.status == SuiteEvent.Status.IGNORED and corp in event.error


def test_installed_links_are_kept_and_links_of_other_schools_untouched(live_suite):
    waiting = install_link_make(name="还没扫")
    install(live_suite)
    waiting.school.refresh_from_db()
    assert waiting.school.status == School.Status.PENDING
    assert InstallLink.objects.count() == 2


# --- after an install: the export, and the purge once uninstalled long enough ----------------


def test_export_writes_the_schools_rows_and_no_secret(live_suite, tmp_path):
    school = install(live_suite)
    out, err = io.StringIO(), io.StringIO()
    call_command("export_school", school.corp_id, stdout=out, stderr=err)
    text = out.getvalue()
    rows = json.loads(text)
    models = {row["model"] for row in rows}
    assert {"school.school", "school.schoolmembership", "auth.user"} <= models
    assert {"install.schoolauthorization", "install.installlink"} <= models
    [row] = [r for r in rows if r["model"] == "school.school"]
    assert row["fields"]["corp_id"] == school.corp_id and "secret" not in row["fields"]
    assert school.secret.reveal() not in text
    assert all("password" not in r["fields"] for r in rows if r["model"] == "auth.user")
    assert SchoolAudit.objects.filter(school_pk=school.pk, event="exported").exists()
    with pytest.raises(CommandError):
        call_command("export_school", school.corp_id.lower(), stdout=io.StringIO())


def test_an_uninstalled_school_is_purged_after_the_period_leaving_its_audit(live_suite, settings):
    settings.SCHOOL_PURGE_AFTER_DAYS = 30
    school = install(live_suite)
    kept = install_link_make(name="还在等")
    admin_id = SchoolMembership.objects.get(school=school).user_id
    uninstalled_at = timezone.now() - dt.timedelta(days=31)
    School.objects.filter(pk=school.pk).update(
        status=School.Status.UNINSTALLED, status_changed_at=uninstalled_at
    )
    assert schools_purge_due(now=uninstalled_at + dt.timedelta(days=29)) == []
    assert schools_purge_due() == [school.pk]
    assert not School.objects.filter(pk=school.pk).exists()
    assert not SchoolAuthorization.objects.filter(school_id=school.pk).exists()
    assert not get_user_model().objects.filter(pk=admin_id).exists()
    assert School.objects.filter(pk=kept.school_id).exists()
    lines = list(SchoolAudit.objects.filter(school_pk=school.pk).values_list("event", flat=True))
    assert "purged" in lines and "installed" in lines
    assert schools_purge_due() == []


def test_wecom_out_of_reach_gives_the_event_back_for_the_tasks_retry(live_suite, settings):
    link = install_link_make(name="稍后再试")
    answered_in_time(live_suite.vendor.scan(link.qrcode_url, corp=live_suite.school_corp))
    event = SuiteEvent.objects.get()
    settings.WECOM_API_BASE = "http://127.0.0.1:9"  # nothing listens: a connection never made
    with pytest.raises(WeComTransientError):
        suite_event_process(event_id=event.pk)
    event.refresh_from_db()
    assert event.status == SuiteEvent.Status.RECEIVED and "could not be reached" in event.error
    settings.WECOM_API_BASE = live_suite.url
    assert suite_event_process(event_id=event.pk).status == SuiteEvent.Status.DONE
    link.school.refresh_from_db()
    assert link.school.is_serving


def test_the_vendor_pushes_a_fresh_ticket_every_interval(live_suite):
    from school_live.install.models import SuiteTicket
    from tests.test_sync_worker import wait_for

    vendor = live_suite.vendor
    first = SuiteTicket.objects.get().ticket.reveal()
    vendor.configure(ticket_interval=1)
    wait_for(
        lambda: SuiteTicket.objects.get().ticket.reveal() != first,
        timeout=10,
        what="a second suite_ticket",
    )
    assert SuiteTicket.objects.get().ticket.reveal() in vendor.tickets
    assert all(entry["ok"] for entry in vendor.log if entry["info_type"] == "suite_ticket")
