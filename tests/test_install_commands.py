"""What operators do before an install: the install link, from the command and from the admin
page (tests/test_install_flow.py has the export and the purge, which need an installed school)."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from school_live.install.models import InstallLink
from school_live.school.models import School, SchoolMembership


def test_install_link_prints_the_link_its_expiry_and_a_qr_code(suite_settings, suite_sandbox, db):
    suite_sandbox.vendor.push_ticket()
    out = io.StringIO()
    call_command("install_link", "--name", "实验中学", stdout=out)
    link = InstallLink.objects.get()
    text = out.getvalue()
    assert f"#{link.school_id} 实验中学" in text and link.qrcode_url in text
    assert f"{timezone.localtime(link.expires_at):%Y-%m-%d}" in text
    assert "█" in text or "▀" in text  # the QR code, drawn in the terminal
    assert link.school.status == School.Status.PENDING
    assert link.state in suite_sandbox.vendor.qr[link.qrcode_url]


def test_install_link_without_the_vendor_settings_names_them(db):
    with pytest.raises(CommandError) as refused:
        call_command("install_link", "--name", "实验中学", stdout=io.StringIO())
    assert "WECOM_SUITE_ID" in str(refused.value) and "WECOM_PROVIDER_SECRET" in str(refused.value)
    assert not School.objects.filter(status=School.Status.PENDING).exists()


def test_a_refused_link_leaves_no_pending_school(suite_settings, suite_sandbox, db, settings):
    settings.WECOM_PROVIDER_SECRET = "wrong"
    with pytest.raises(CommandError) as refused:
        call_command("install_link", "--name", "实验中学", stdout=io.StringIO())
    assert "WeCom refused the install link" in str(refused.value)
    assert "wrong" not in str(refused.value)
    assert not School.objects.filter(status=School.Status.PENDING).exists()


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_superuser("operator", "op@example.com", "pw-12345678")


def test_the_operator_page_makes_a_link_and_shows_its_qr_code(
    client, operator, suite_settings, suite_sandbox
):
    suite_sandbox.vendor.push_ticket()
    client.force_login(operator)
    add = reverse("admin:install_installlink_add")
    assert "School name" in client.get(add).content.decode() or client.get(add).status_code == 200
    response = client.post(add, {"name": "<b>新</b>学校"}, follow=True)
    link = InstallLink.objects.get()
    page = response.content.decode()
    assert 'src="data:image/svg+xml' in page and link.qrcode_url in page
    assert "&lt;b&gt;新&lt;/b&gt;学校" in page and "<b>新</b>" not in page


def test_the_operator_page_says_when_the_vendor_is_not_configured(client, operator):
    client.force_login(operator)
    page = client.get(reverse("admin:install_installlink_add")).content.decode()
    assert "WECOM_SUITE_ID" in page
    assert client.post(reverse("admin:install_installlink_add"), {"name": "x"}).status_code == 200
    assert not InstallLink.objects.exists()


def test_a_school_admin_cannot_make_install_links(client, db):
    school = School.objects.create(name="某校", corp_id="wwschool1", agent_id=1)
    admin = get_user_model().objects.create_user("schooladmin", password="pw-12345678")
    admin.is_staff = True
    admin.save()
    SchoolMembership.objects.create(user=admin, school=school, role="school_admin")
    client.force_login(admin)
    assert client.get(reverse("admin:install_installlink_add")).status_code == 403
    assert client.get(reverse("admin:install_installlink_changelist")).status_code == 403
