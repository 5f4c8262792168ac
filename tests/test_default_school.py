"""The default school: made or brought up to date from the environment at every migrate, writing
only what the environment defines; and a single-school deployment's users join it."""

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from school_live.school.default_school import default_school_seed
from school_live.school.models import School, SchoolMembership

pytestmark = pytest.mark.django_db


@pytest.fixture
def environment(settings):
    settings.SCHOOL_NAME = ""
    settings.WECOM_CORP_ID = "ww_env_corp"
    settings.WECOM_SECRET = "env-secret"
    settings.WECOM_AGENT_ID = 1000002
    return settings


def default() -> School:
    return School.objects.get(from_environment=True)


def test_the_migrated_database_has_one_default_school():
    assert School.objects.filter(from_environment=True).count() == 1
    assert default().name == "学校"


def test_migrate_copies_the_corp_and_agent_and_never_the_secret(environment):
    call_command("migrate", verbosity=0)
    school = default()
    assert (school.corp_id, school.agent_id) == ("ww_env_corp", 1000002)
    assert not school.secret  # read from WECOM_SECRET when used
    assert school.wecom_secret() == "env-secret"
    assert School.objects.filter(from_environment=True).count() == 1


def test_a_name_given_in_the_admin_survives_every_deploy(environment):
    School.objects.filter(from_environment=True).update(name="阳光实验小学")
    call_command("migrate", verbosity=0)
    call_command("migrate", verbosity=0)
    assert default().name == "阳光实验小学"


def test_school_name_in_the_environment_names_it(environment):
    environment.SCHOOL_NAME = "第二实验小学"
    _school, changed = default_school_seed(apps)
    assert "name" in changed and default().name == "第二实验小学"
    assert default_school_seed(apps)[1] == []  # nothing left to change


def test_what_the_environment_leaves_unset_is_kept(settings):
    School.objects.filter(from_environment=True).update(corp_id="ww_kept", agent_id=9)
    settings.WECOM_CORP_ID, settings.WECOM_AGENT_ID, settings.SCHOOL_NAME = "", None, ""
    assert default_school_seed(apps)[1] == []
    assert (default().corp_id, default().agent_id) == ("ww_kept", 9)


def test_a_deleted_default_school_comes_back(environment):
    School.objects.filter(from_environment=True).delete()
    call_command("migrate", verbosity=0)
    assert default().corp_id == "ww_env_corp"


def test_the_environments_corp_id_on_an_added_school_is_refused(environment):
    School.objects.create(name="另一所", corp_id="ww_env_corp")
    with pytest.raises(ImproperlyConfigured, match="also the corp id of the school"):
        default_school_seed(apps)


@pytest.mark.django_db(transaction=True)
def test_existing_users_join_the_default_school_at_the_membership_migration(settings):
    """A single-school deployment upgrading: staff become its school admins, the others its
    teachers; superusers stay operators."""
    settings.SCHOOL_NAME, settings.WECOM_CORP_ID, settings.WECOM_AGENT_ID = "", "ww_up", None
    executor = MigrationExecutor(connection)
    before = [("school", "0007_school_tenant")]
    after = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(before)
        old = executor.loader.project_state(before).apps
        users = old.get_model("auth", "User").objects
        users.create(username="jiaowu", is_staff=True)
        users.create(username="wangli")
        users.create(username="vendor", is_staff=True, is_superuser=True)
        old.get_model("school", "School").objects.filter(from_environment=True).delete()

        executor = MigrationExecutor(connection)
        executor.migrate([("school", "0008_school_membership")])
    finally:
        MigrationExecutor(connection).migrate(after)

    roles = {
        m.user.username: (m.role, m.school.from_environment, m.school.corp_id)
        for m in SchoolMembership.objects.select_related("user", "school")
    }
    assert roles == {
        "jiaowu": ("school_admin", True, "ww_up"),
        "wangli": ("teacher", True, "ww_up"),
    }
    user = get_user_model().objects.get(username="vendor")
    assert not SchoolMembership.objects.filter(user=user).exists()
