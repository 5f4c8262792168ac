"""/wecom/callback/: WeCom's URL check and living_status_change events, as WeCom sends them."""

import pytest
from django.urls import reverse

from school_live.school.models import Living
from school_live.wecom.callback_crypto import CallbackCrypto
from tests.fixtures.callbacks import (
    AES_KEY,
    ECHOSTR,
    NONCE,
    SIGNATURE,
    TIMESTAMP,
    TOKEN,
    URL,
    event_xml,
    living_runs,
    post_event,
)


def test_unset_callbacks_are_a_404(client, db, settings):
    settings.WECOM_CALLBACK_TOKEN = ""
    assert client.get(URL).status_code == 404
    assert client.post(URL, data=b"<xml/>", content_type="text/xml").status_code == 404


def test_reverse_names_the_url():
    assert reverse("wecom_callback") == URL


def test_official_url_check_is_answered_with_the_plaintext_exactly(
    client, db, callbacks_on, frozen_clock
):
    frozen_clock(int(TIMESTAMP) + 5)  # WeCom's sample was signed in 2014
    response = client.get(
        URL,
        {"msg_signature": SIGNATURE, "timestamp": TIMESTAMP, "nonce": NONCE, "echostr": ECHOSTR},
    )
    assert response.status_code == 200
    assert response.content == b"1616140317555161061"


def test_a_forged_url_check_is_refused(client, db, callbacks_on):
    response = client.get(
        URL, {"msg_signature": "f" * 40, "timestamp": TIMESTAMP, "nonce": NONCE, "echostr": ECHOSTR}
    )
    assert response.status_code == 400
    assert b"1616140317555161061" not in response.content


def test_live_event_moves_the_lesson_live_and_queues_a_sync(client, callbacks_on, reserved_lesson):
    response = post_event(client, callbacks_on, event_xml(reserved_lesson.livingid, 1))
    assert response.status_code == 200
    assert response.content == b""
    reserved_lesson.refresh_from_db()
    assert reserved_lesson.status == Living.Status.LIVE
    assert living_runs(reserved_lesson.livingid) == 1


def test_a_forged_event_changes_nothing(client, callbacks_on, reserved_lesson):
    response = post_event(client, callbacks_on, event_xml(reserved_lesson.livingid, 1), tamper=True)
    assert response.status_code == 400
    reserved_lesson.refresh_from_db()
    assert reserved_lesson.status == Living.Status.RESERVED
    assert living_runs(reserved_lesson.livingid) == 0


def test_an_event_for_another_corp_changes_nothing(client, callbacks_on, reserved_lesson):
    other = CallbackCrypto(token=TOKEN, encoding_aes_key=AES_KEY, receive_id="wwothercorp")
    response = post_event(client, other, event_xml(reserved_lesson.livingid, 1, corp="wwothercorp"))
    assert response.status_code == 400
    reserved_lesson.refresh_from_db()
    assert reserved_lesson.status == Living.Status.RESERVED


def test_a_replayed_event_changes_nothing_twice(client, callbacks_on, reserved_lesson):
    inner = event_xml(reserved_lesson.livingid, 1)
    assert post_event(client, callbacks_on, inner).status_code == 200
    reserved_lesson.refresh_from_db()
    first_change = reserved_lesson.status_changed_at
    assert post_event(client, callbacks_on, inner).status_code == 200
    reserved_lesson.refresh_from_db()
    assert reserved_lesson.status == Living.Status.LIVE
    assert reserved_lesson.status_changed_at == first_change
    assert living_runs(reserved_lesson.livingid) == 1


def test_an_ended_event_before_its_live_event_keeps_the_lesson_ended(
    client, callbacks_on, reserved_lesson
):
    assert (
        post_event(client, callbacks_on, event_xml(reserved_lesson.livingid, 2)).status_code == 200
    )
    assert (
        post_event(client, callbacks_on, event_xml(reserved_lesson.livingid, 1)).status_code == 200
    )
    reserved_lesson.refresh_from_db()
    assert reserved_lesson.status == Living.Status.ENDED


def test_a_cancelled_event_marks_the_lesson_cancelled_without_a_sync(
    client, callbacks_on, reserved_lesson
):
    assert (
        post_event(client, callbacks_on, event_xml(reserved_lesson.livingid, 4)).status_code == 200
    )
    reserved_lesson.refresh_from_db()
    assert reserved_lesson.status == Living.Status.CANCELLED
    assert living_runs(reserved_lesson.livingid) == 0
    # A late live event cannot bring a cancelled lesson back.
    assert (
        post_event(client, callbacks_on, event_xml(reserved_lesson.livingid, 1)).status_code == 200
    )
    reserved_lesson.refresh_from_db()
    assert reserved_lesson.status == Living.Status.CANCELLED


def test_an_event_for_a_living_we_do_not_hold_queues_its_sync(client, db, callbacks_on):
    assert post_event(client, callbacks_on, event_xml("lv-unknown", 2)).status_code == 200
    assert Living.objects.get(livingid="lv-unknown").status == Living.Status.ENDED
    assert living_runs("lv-unknown") == 1


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml at all",
        b"<xml><Encrypt><![CDATA[abc]]></Encrypt>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml>&e;</xml>',
        "<xml><Encrypt>\u4e2d</Encrypt></xml>".encode(),
    ],
)
def test_malformed_xml_is_a_400_never_a_500(client, db, callbacks_on, body):
    response = client.post(
        f"{URL}?msg_signature=x&timestamp=1&nonce=2", data=body, content_type="text/xml"
    )
    assert response.status_code == 400


def test_a_sealed_but_malformed_event_is_a_400(client, callbacks_on, reserved_lesson):
    inner = event_xml(reserved_lesson.livingid, 1).replace(
        "<Status>1</Status>", "<Status>x</Status>"
    )
    assert post_event(client, callbacks_on, inner).status_code == 400
    reserved_lesson.refresh_from_db()
    assert reserved_lesson.status == Living.Status.RESERVED


def test_other_events_are_acknowledged_and_ignored(client, callbacks_on, reserved_lesson):
    inner = event_xml(reserved_lesson.livingid, 1).replace("living_status_change", "enter_agent")
    assert post_event(client, callbacks_on, inner).status_code == 200
    reserved_lesson.refresh_from_db()
    assert reserved_lesson.status == Living.Status.RESERVED


def test_a_malformed_aes_key_setting_turns_callbacks_off(client, db, callbacks_on, settings):
    settings.WECOM_CALLBACK_AES_KEY = "short"
    assert client.get(URL, {"echostr": ECHOSTR}).status_code == 404
