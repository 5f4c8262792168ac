"""/wecom/suite/callback/, the 代开发 template's command URL (api.md §18.0): WeCom's URL check and
its events, sealed here as the sandbox's vendor seals them. What may be stored is stored once;
a forged, other-suite or malformed event is a 400 and changes nothing."""

import logging
import time
from urllib.parse import urlencode

import pytest

from school_live.install.models import SuiteEvent, SuiteTicket
from school_live.wecom.callback_crypto import CallbackCrypto
from school_live.wecom.suite_callback import CommandEvent, command_event_xml
from school_live.wecom_sandbox import vendor_credentials

URL = "/wecom/suite/callback/"
CREDS = vendor_credentials(seed=7)
AUTH_CODE = "A" * 64


@pytest.fixture
def suite_on(settings, db):
    for name, value in CREDS.as_settings().items():
        setattr(settings, name, value)
    return settings


def sealer(receive_id: str = CREDS.suite_id, token: str = CREDS.token) -> CallbackCrypto:
    return CallbackCrypto(token=token, encoding_aes_key=CREDS.aes_key, receive_id=receive_id)


def event(info_type: str, **fields) -> CommandEvent:
    fields.setdefault("suite_id", CREDS.suite_id)
    return CommandEvent(info_type=info_type, timestamp=int(time.time()), **fields)


def post(client, inner: str, *, crypto=None, nonce="1", tamper=False, timestamp=None):
    crypto = crypto or sealer()
    timestamp = str(timestamp or int(time.time()))
    params, body = crypto.seal_post(inner, timestamp=timestamp, nonce=nonce, agent_id="")
    if tamper:
        params["msg_signature"] = "0" * 40
    return client.post(f"{URL}?{urlencode(params)}", data=body, content_type="text/xml")


def url_check(client, crypto, message="5923416780123456789"):
    echostr = crypto.encrypt(message)
    timestamp, nonce = str(int(time.time())), "42"
    params = {
        "msg_signature": crypto.signature(timestamp, nonce, echostr),
        "timestamp": timestamp,
        "nonce": nonce,
        "echostr": echostr,
    }
    return client.get(f"{URL}?{urlencode(params)}")


def nothing_stored():
    return not SuiteEvent.objects.exists() and not SuiteTicket.objects.exists()


def test_without_the_vendor_settings_the_url_is_a_404(client, db):
    assert client.get(URL).status_code == 404
    assert (
        post(client, command_event_xml(event("suite_ticket", suite_ticket="t"))).status_code == 404
    )


@pytest.mark.parametrize("receive_id", [CREDS.provider_corp_id, CREDS.suite_id])
def test_the_url_check_answers_the_plaintext_sealed_for_either_receive_id(
    client, suite_on, receive_id
):
    response = url_check(client, sealer(receive_id))
    assert response.status_code == 200
    assert response.content == b"5923416780123456789"


def test_the_url_check_sealed_for_another_corp_is_refused(client, suite_on):
    assert url_check(client, sealer("wwsomebodyelse0000")).status_code == 400


@pytest.mark.parametrize("receive_id", [CREDS.suite_id, CREDS.provider_corp_id])
def test_a_suite_ticket_is_stored_and_answered_success(client, suite_on, receive_id):
    inner = command_event_xml(event("suite_ticket", suite_ticket="ticket-one"))
    response = post(client, inner, crypto=sealer(receive_id))
    assert response.status_code == 200 and response.content == b"success"
    assert SuiteTicket.objects.get(suite_id=CREDS.suite_id).ticket.reveal() == "ticket-one"


def test_an_older_ticket_does_not_replace_a_newer_one(client, suite_on):
    now = int(time.time())
    newer = CommandEvent("suite_ticket", CREDS.suite_id, now, suite_ticket="newer")
    older = CommandEvent("suite_ticket", CREDS.suite_id, now - 600, suite_ticket="older")
    post(client, command_event_xml(newer), nonce="1")
    post(client, command_event_xml(older), nonce="2")
    assert SuiteTicket.objects.get().ticket.reveal() == "newer"


def test_the_same_auth_code_twice_is_one_event(client, suite_on, caplog):
    caplog.set_level(logging.INFO)
    inner = command_event_xml(event("create_auth", auth_code=AUTH_CODE, state="abc"))
    first = post(client, inner, nonce="1")
    again = post(client, inner, nonce="2", timestamp=int(time.time()) + 1)  # WeCom's retry
    assert first.content == again.content == b"success"
    stored = SuiteEvent.objects.get()
    assert stored.kind == "create_auth" and stored.state == "abc"
    assert stored.auth_code.reveal() == AUTH_CODE
    assert "nothing queued" in caplog.text
    assert AUTH_CODE not in caplog.text


@pytest.mark.parametrize(
    "info_type, fields",
    [
        ("change_auth", {"auth_corp_id": "wpAbCdEf0123456789", "state": "s1"}),
        ("cancel_auth", {"auth_corp_id": "wpAbCdEf0123456789"}),
        ("reset_permanent_code", {"auth_code": AUTH_CODE}),
    ],
)
def test_each_later_event_is_stored_for_its_task(client, suite_on, info_type, fields):
    assert post(client, command_event_xml(event(info_type, **fields))).content == b"success"
    stored = SuiteEvent.objects.get()
    assert stored.kind == info_type and stored.status == SuiteEvent.Status.RECEIVED
    assert stored.auth_corp_id == fields.get("auth_corp_id", "")  # exactly, case kept


def test_a_forged_event_is_refused_and_changes_nothing(client, suite_on):
    inner = command_event_xml(event("create_auth", auth_code=AUTH_CODE))
    assert post(client, inner, tamper=True).status_code == 400
    forged_token = sealer(token="not-the-templates-token")
    assert post(client, inner, crypto=forged_token).status_code == 400
    assert nothing_stored()


def test_an_event_of_another_suite_is_refused(client, suite_on):
    inner = command_event_xml(event("create_auth", auth_code=AUTH_CODE, suite_id="dkother0000000"))
    response = post(client, inner)
    assert response.status_code == 400 and response.content == b"refused (-40101)"
    assert nothing_stored()


def test_an_event_sealed_for_another_receiver_is_refused(client, suite_on):
    inner = command_event_xml(event("create_auth", auth_code=AUTH_CODE))
    assert post(client, inner, crypto=sealer("wwsomebodyelse0000")).status_code == 400
    assert nothing_stored()


@pytest.mark.parametrize(
    "inner",
    [
        f"<xml><SuiteId>{CREDS.suite_id}</SuiteId><InfoType>create_auth</InfoType>"
        "<TimeStamp>1</TimeStamp></xml>",  # no AuthCode
        f"<xml><SuiteId>{CREDS.suite_id}</SuiteId><InfoType>cancel_auth</InfoType>"
        "<TimeStamp>1</TimeStamp><AuthCorpId>a b</AuthCorpId></xml>",  # not a corp id
        f"<xml><SuiteId>{CREDS.suite_id}</SuiteId><InfoType>create_auth</InfoType>"
        f"<TimeStamp>1</TimeStamp><AuthCode>{AUTH_CODE}</AuthCode><State>x-y</State></xml>",
        f"<xml><SuiteId>{CREDS.suite_id}</SuiteId><InfoType>suite_ticket</InfoType>"
        "<TimeStamp>soon</TimeStamp><SuiteTicket>t</SuiteTicket></xml>",
        f"<xml><SuiteId>{CREDS.suite_id}</SuiteId><TimeStamp>1</TimeStamp></xml>",
        "<xml><SuiteId>unclosed",
    ],
)
def test_a_malformed_event_is_refused_and_changes_nothing(client, suite_on, inner):
    assert post(client, inner).status_code == 400
    assert nothing_stored()


def test_a_timestamp_far_from_our_clock_is_refused(client, suite_on):
    inner = command_event_xml(event("create_auth", auth_code=AUTH_CODE))
    assert post(client, inner, timestamp=int(time.time()) - 3 * 24 * 3600).status_code == 400
    assert nothing_stored()


def test_an_info_type_we_do_not_act_on_is_acknowledged(client, suite_on):
    inner = (
        f"<xml><SuiteId>{CREDS.suite_id}</SuiteId><InfoType>change_contact</InfoType>"
        "<TimeStamp>1</TimeStamp></xml>"
    )
    assert post(client, inner).content == b"success"
    assert nothing_stored()
