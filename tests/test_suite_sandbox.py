"""The sandbox's vendor side of a 代开发 app (api.md §18.14), over real HTTP: the product's own
SuiteClient and WeComClient against it, and its switches where §18 is UNVERIFIED."""

import time

import pytest
import requests
from django.core.cache.backends.locmem import LocMemCache

from school_live.wecom.client import WeComClient
from school_live.wecom.errors import WeComConfigError
from school_live.wecom.suite import (
    AUTH_CODE_USED,
    INVALID_PERMANENT_CODE,
    INVALID_SUITE_TICKET,
    SuiteClient,
    SuiteError,
    SuiteSettings,
)
from school_live.wecom.suite_callback import CommandCrypto
from school_live.wecom_sandbox.suite_model import AUTH_CODE_TTL

STATE = "a1b2c3"


def cache():
    return LocMemCache(f"suite-{time.monotonic_ns()}", {})


def suite_of(vendor) -> SuiteSettings:
    c = vendor.credentials
    return SuiteSettings(
        c.provider_corp_id, c.provider_secret, c.suite_id, c.suite_secret, c.token, c.aes_key
    )


@pytest.fixture
def suite(suite_sandbox):
    vendor = suite_sandbox.vendor
    vendor.push_ticket()  # no URL yet: the ticket is issued, the POST goes nowhere
    with SuiteClient(
        suite_of(vendor),
        ticket=lambda: vendor.tickets[-1],
        base_url=suite_sandbox.url,
        cache=cache(),
    ) as client:
        yield client


def installed(suite_sandbox, suite) -> tuple:
    link = suite.customized_auth_url(state=STATE)
    scan = suite_sandbox.vendor.scan(link.qrcode_url, corp=suite_sandbox.school_corp)
    return scan, suite.permanent_code(scan["auth_code"])


def school_client(suite_sandbox, corp_id: str, secret: str, agent_id: int) -> WeComClient:
    return WeComClient(
        base_url=suite_sandbox.url,
        corp_id=corp_id,
        secret=secret,
        agent_id=agent_id,
        cache=cache(),
        retry_base_delay=0.01,
    )


def test_the_token_calls_answer_without_errcode_and_the_same_token_for_its_lifetime(
    suite_sandbox, suite
):
    creds = suite_sandbox.vendor.credentials
    body = {"corpid": creds.provider_corp_id, "provider_secret": creds.provider_secret}
    url = f"{suite_sandbox.url}/cgi-bin/service/get_provider_token"
    first, second = (requests.post(url, json=body, timeout=5).json() for _ in range(2))
    assert "errcode" not in first and first["expires_in"] > 7000
    assert first["provider_access_token"] == second["provider_access_token"]
    assert suite.suite_token() == suite.suite_token()


def test_the_install_link_scan_and_permanent_code_have_the_documented_shape(suite_sandbox, suite):
    link = suite.customized_auth_url(state=STATE)
    assert link.qrcode_url.startswith("https://") and link.expires_in == 864000
    scan, permanent = installed(suite_sandbox, suite)
    corp = suite_sandbox.school_corp
    assert scan["info_type"] == "create_auth" and scan["http_status"] is None  # no URL yet
    assert permanent.corp.corpid == corp and permanent.state == STATE
    assert permanent.agent.is_customized_app and permanent.agent.agentid == 1000003
    assert permanent.user.userid in suite_sandbox.district[corp].school.teachers
    assert "permanent_code" not in repr(permanent) and permanent.permanent_code not in repr(
        permanent
    )


def test_an_auth_code_is_single_use(suite_sandbox, suite):
    scan, _permanent = installed(suite_sandbox, suite)
    with pytest.raises(SuiteError) as refused:
        suite.permanent_code(scan["auth_code"])
    assert refused.value.errcode == AUTH_CODE_USED
    assert "scan the install QR again" in str(refused.value)


def test_an_auth_code_older_than_ten_minutes_is_refused(suite_sandbox, suite, clock_at):
    link = suite.customized_auth_url(state=STATE)
    scan = suite_sandbox.vendor.scan(link.qrcode_url, corp=suite_sandbox.school_corp)
    clock_at(time.time() + AUTH_CODE_TTL + 1)
    with pytest.raises(SuiteError) as refused:
        suite.permanent_code(scan["auth_code"])
    assert refused.value.errcode == AUTH_CODE_USED


def test_gettoken_takes_the_permanent_code_until_cancel_or_reset(suite_sandbox, suite):
    vendor, corp = suite_sandbox.vendor, suite_sandbox.school_corp
    _scan, permanent = installed(suite_sandbox, suite)
    client = school_client(suite_sandbox, corp, permanent.permanent_code, permanent.agent.agentid)
    assert client.get_access_token()
    assert client.get_agent().customized_publish_status == 1

    reset = vendor.reset(corp)
    renewed = suite.permanent_code(reset["auth_code"])
    assert renewed.permanent_code != permanent.permanent_code and renewed.corp.corpid == corp
    stale = school_client(suite_sandbox, corp, permanent.permanent_code, renewed.agent.agentid)
    with pytest.raises(WeComConfigError) as refused:
        stale.get_access_token()
    assert refused.value.errcode == 40001
    fresh = school_client(suite_sandbox, corp, renewed.permanent_code, renewed.agent.agentid)
    assert fresh.get_access_token()

    vendor.cancel(corp)
    with pytest.raises(WeComConfigError):
        school_client(suite_sandbox, corp, renewed.permanent_code, 1).get_access_token()
    with pytest.raises(SuiteError) as gone:
        suite.auth_info(corp_id=corp, permanent_code=renewed.permanent_code)
    assert gone.value.errcode == INVALID_PERMANENT_CODE


def test_only_the_last_two_tickets_make_a_suite_token(suite_sandbox):
    vendor = suite_sandbox.vendor
    first = vendor.push_ticket() and vendor.tickets[-1]
    vendor.push_ticket()
    vendor.push_ticket()
    with (
        SuiteClient(
            suite_of(vendor), ticket=lambda: first, base_url=suite_sandbox.url, cache=cache()
        ) as client,
        pytest.raises(SuiteError) as refused,
    ):
        client.suite_token()
    assert refused.value.errcode == INVALID_SUITE_TICKET
    assert "刷新ticket" in str(refused.value)


def test_an_expired_suite_token_is_fetched_again_once(suite_sandbox, suite):
    link = suite.customized_auth_url(state=STATE)
    first = suite.suite_token()
    suite_sandbox.vendor.expire_suite_token()  # 42009 for the cached one
    scan = suite_sandbox.vendor.scan(link.qrcode_url, corp=suite_sandbox.school_corp)
    assert suite.permanent_code(scan["auth_code"]).permanent_code
    assert suite.suite_token() != first


@pytest.mark.parametrize("how", ["absent", "no_open_userid"])
def test_the_admin_who_scanned_may_be_missing_from_the_answer(suite_sandbox, suite, how):
    suite_sandbox.vendor.configure(auth_user=how)
    _scan, permanent = installed(suite_sandbox, suite)
    if how == "absent":
        assert permanent.user is None
    else:
        assert permanent.user.userid and permanent.user.open_userid == ""


def test_the_control_api_scans_and_shows_no_secret(suite_sandbox, suite):
    link = suite.customized_auth_url(state=STATE)
    base = f"{suite_sandbox.url}/sandbox/suite"
    scanned = requests.post(
        f"{base}/scan",
        json={"qrcode_url": link.qrcode_url, "corp": suite_sandbox.school_corp},
        timeout=5,
    ).json()
    assert scanned["info_type"] == "create_auth" and scanned["auth_code"]
    assert suite.permanent_code(scanned["auth_code"]).corp.corpid == suite_sandbox.school_corp
    shown = requests.get(base, timeout=5).text
    creds = suite_sandbox.vendor.credentials
    for secret in (creds.provider_secret, creds.suite_secret, creds.token, creds.aes_key):
        assert secret not in shown
    assert suite_sandbox.vendor.installs[suite_sandbox.school_corp].permanent_code not in shown
    bad = requests.post(f"{base}/config", json={"auth_user": "nobody"}, timeout=5)
    assert bad.status_code == 400


@pytest.mark.parametrize("get_receive_id", ["provider", "suite"])
@pytest.mark.parametrize("post_receive_id", ["suite", "provider"])
def test_the_product_crypto_opens_what_the_vendor_seals_either_way(
    suite_sandbox, get_receive_id, post_receive_id
):
    vendor = suite_sandbox.vendor
    vendor.configure(get_receive_id=get_receive_id, post_receive_id=post_receive_id)
    c = vendor.credentials
    crypto = CommandCrypto(
        token=c.token,
        aes_key=c.aes_key,
        suite_id=c.suite_id,
        provider_corp_id=c.provider_corp_id,
        max_skew=60,
    )
    sealer = vendor.crypto(get_receive_id)
    echostr = sealer.encrypt("1234567890")
    signature = sealer.signature("1", "2", echostr)
    assert crypto.verify_url(signature, "1", "2", echostr) == "1234567890"
    vendor.push_ticket()
    _info_type, inner = vendor._sent[-1]
    params, body = vendor.crypto(post_receive_id).seal_post(
        inner, timestamp="1", nonce="2", agent_id=""
    )
    opened = crypto.open_post(params["msg_signature"], "1", "2", body)
    assert crypto.event(opened).suite_ticket == vendor.tickets[-1]
