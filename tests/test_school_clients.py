"""Each school talks to WeCom as itself: its own corp id, secret and agent id, its own token,
rate budget and JS-SDK tickets in the shared cache.

Two schools, each with its own sandbox server (one corp each): the default school from the
WECOM_* settings and a school added with its secret stored encrypted.
"""

import pytest
from cryptography.fernet import Fernet

from school_live.school.models import School
from school_live.wecom.client import WeComClient, school_client
from school_live.wecom.errors import WeComConfigError
from school_live.wecom.jsapi import AGENT, CORP, TicketStore
from school_live.wecom_sandbox import SandboxServer, SandboxState, generate_school

pytestmark = pytest.mark.django_db

AGENT_ID = 1000002  # the same AgentId in both corps, as WeCom hands out
CORPS = {
    "default": ("ww_default_school", "default-school-secret"),
    "added": ("ww_added_school", "added-school-secret"),
}


@pytest.fixture(scope="module")
def corp_servers():
    servers = {}
    try:
        for name, (corp_id, secret) in CORPS.items():
            state = SandboxState(
                generate_school(grades=1, classes_per_grade=1, students_per_class=2, weeks=1),
                corp_id=corp_id,
                secret=secret,
                agent_id=AGENT_ID,
            )
            servers[name] = SandboxServer(state).start()
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture
def schools(settings, corp_servers):
    for server in corp_servers.values():
        server.state.reset()
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    settings.WECOM_API_BASE = corp_servers["default"].url
    settings.WECOM_CORP_ID, settings.WECOM_SECRET = CORPS["default"]
    settings.WECOM_AGENT_ID = AGENT_ID
    default = School.objects.get(from_environment=True)
    corp_id, secret = CORPS["added"]
    added = School.objects.create(name="二中", corp_id=corp_id, agent_id=AGENT_ID, secret=secret)
    return default, School.objects.get(pk=added.pk)


def test_two_schools_get_their_own_tokens_under_their_own_keys(schools, corp_servers):
    default, added = schools
    with (
        WeComClient.for_school(default) as one,
        WeComClient.for_school(added, base_url=corp_servers["added"].url) as two,
    ):
        assert (one.corp_id, one.agent_id) == (CORPS["default"][0], AGENT_ID)
        assert (two.corp_id, two.agent_id) == (CORPS["added"][0], AGENT_ID)
        first, second = one.get_access_token(), two.get_access_token()
        assert first != second
        assert one._token_key != two._token_key
        assert one.cache.get(one._token_key) == first
        assert two.cache.get(two._token_key) == second
        # Each token is its own corp's: the sandbox of the other corp does not know it.
        assert corp_servers["default"].state.token_status(first) == 0
        assert corp_servers["default"].state.token_status(second) != 0
        assert corp_servers["added"].state.token_status(second) == 0

        tickets_one, tickets_two = TicketStore(one), TicketStore(two)
        assert tickets_one._prefix != tickets_two._prefix
        for kind in (CORP, AGENT):
            assert tickets_one.ticket(kind) != tickets_two.ticket(kind)
            assert tickets_one.fetches_this_hour(kind) == tickets_two.fetches_this_hour(kind) == 1


def test_on_one_base_url_every_cache_key_is_per_corp(schools):
    """The keys differ because the corps do, not because the URLs do."""
    default, added = schools
    with WeComClient.for_school(default) as one, WeComClient.for_school(added) as two:
        assert one.base_url == two.base_url
        assert one._token_key != two._token_key
        assert one._lock_key != two._lock_key
        assert one.budget.scope != two.budget.scope
        assert TicketStore(one)._prefix != TicketStore(two)._prefix


def test_the_js_sdk_tickets_are_per_agent_within_one_corp(schools):
    default, _added = schools
    with (
        WeComClient.for_school(default) as one,
        WeComClient.for_school(default, agent_id=AGENT_ID + 1) as other_app,
    ):
        assert TicketStore(one)._prefix != TicketStore(other_app)._prefix


def test_school_client_takes_a_school_and_keeps_its_default(schools, corp_servers):
    default, added = schools
    with school_client(school=added, base_url=corp_servers["added"].url) as client:
        assert client.corp_id == CORPS["added"][0]
        assert client.get_access_token()
    with school_client() as client:
        assert client.corp_id == CORPS["default"][0]
        assert client.get_access_token()
    given = WeComClient.for_school(default)
    with school_client(given, school=added) as client:
        assert client is given  # the caller's client wins, as before
    given.close()


def test_a_school_without_its_secret_says_where_to_enter_it(schools, settings):
    _default, added = schools
    added.secret = None
    added.save()
    with pytest.raises(
        WeComConfigError, match=r"app secret is missing: enter it in the admin"
    ) as e:
        WeComClient.for_school(School.objects.get(pk=added.pk))
    assert f"school #{added.pk}" in str(e.value)
    assert "WECOM_SECRET" not in str(e.value)
