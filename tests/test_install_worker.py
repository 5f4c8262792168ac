"""The 代开发 flow with every part real: the sandbox's vendor, the site on a live server and a
Celery worker process. Install link → the school's admin scans → create_auth answered within
1000 ms → the worker installs the school (its first school admin, the welcome message, its first
sync queued); cancel_auth → the worker uninstalls it.

What issue 23 also asks — the new school's roster synced and a teacher of it signing in through
WeCom and seeing their classes — needs the tenant work (h22-tenant): until then the school sync
the install queues is the default school's (install/installs.py, ``roster_sync_start``)."""

import pytest

from school_live.install.links import install_link_make
from school_live.install.models import SchoolAuthorization, SuiteEvent
from school_live.school.models import School, SchoolMembership, SyncRun
from tests.fixtures.install import CALLBACK_PATH
from tests.test_sync_worker import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.slow]


@pytest.fixture
def installing(celery_worker_factory, suite_settings, suite_sandbox, live_server, monkeypatch):
    """The worker knows the vendor and opens the secrets the site stores."""
    for name, value in suite_sandbox.vendor.credentials.as_settings().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SCHOOL_LIVE_ENCRYPTION_KEYS", ",".join(suite_settings.ENCRYPTION_KEYS))
    worker = celery_worker_factory(suite_sandbox)
    suite_sandbox.vendor.configure(url=f"{live_server.url}{CALLBACK_PATH}")
    return suite_sandbox, worker


def event_done(kind: str, worker):
    def done():
        event = SuiteEvent.objects.filter(kind=kind).first()
        return event if event and event.status not in ("received", "working") else None

    return wait_for(done, timeout=60, what=f"the worker to work on {kind}", worker=worker)


def test_a_school_installs_and_uninstalls_through_a_real_worker(installing):
    sandbox, worker = installing
    vendor, corp = sandbox.vendor, sandbox.school_corp
    link = install_link_make(name="远山中学")

    scanned = vendor.scan(link.qrcode_url, corp=corp)
    assert scanned["http_status"] == 200 and scanned["body"] == "success"
    assert scanned["elapsed_ms"] < 1000, scanned
    event = event_done("create_auth", worker)
    assert event.status == SuiteEvent.Status.DONE, event.error

    school = School.objects.get(pk=link.school_id)
    assert school.is_serving and school.corp_id == corp
    assert school.secret.reveal() == vendor.installs[corp].permanent_code
    admin = SchoolMembership.objects.get(school=school)
    assert admin.role == SchoolMembership.Role.SCHOOL_ADMIN
    assert admin.user.username == vendor.installs[corp].admin
    assert SchoolAuthorization.objects.get(school=school).welcome_sent_at is not None
    assert [m["recipients"] for m in sandbox.district[corp].sent_messages] == [
        [admin.user.username]
    ]
    assert SyncRun.objects.filter(kind=SyncRun.Kind.SCHOOL).exists()

    cancelled = vendor.cancel(corp)
    assert cancelled["body"] == "success" and cancelled["elapsed_ms"] < 1000
    assert event_done("cancel_auth", worker).status == SuiteEvent.Status.DONE
    school.refresh_from_db()
    assert school.status == School.Status.UNINSTALLED and not school.is_serving
