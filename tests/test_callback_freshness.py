"""/wecom/callback/ from outside (issue 19, findings 6 and 8): an XML declaration naming any
encoding but UTF-8, or bytes that are not UTF-8, is a 400 before parsing (never a 500, never a
traceback page); a timestamp that is not an integer or lies outside the window is a 400; an exact
replay (same signature and nonce) is answered 200 and changes nothing.

The view's clock is frozen (``frozen_clock``, tests/fixtures/callbacks.py) a little after
the time the events are signed at, ``SENT_AT``."""

import logging
from urllib.parse import urlencode

import pytest
from django.db import DatabaseError
from django.test import Client

from school_live.school.models import Living, SyncRun
from school_live.sync import callbacks
from school_live.wecom.callback_crypto import XML_ERROR, CallbackError, parse_xml
from tests.fixtures.callbacks import (
    AES_KEY,
    ECHOSTR,
    NONCE,
    SENT_AT,
    SIGNATURE,
    TIMESTAMP,
    TOKEN,
    URL,
    event_xml,
    living_runs,
    post_event,
)

DAY = 24 * 3600
PROBE = f"{URL}?msg_signature=0&timestamp=1&nonce=n"
ENCRYPT = b"<xml><Encrypt>a</Encrypt></xml>"


def declared(encoding: str, quote: str = '"') -> bytes:
    return f"<?xml version={quote}1.0{quote} encoding={quote}{encoding}{quote}?>".encode()


# Finding 6: encodings and bytes --------------------------------------------------------------

BOGUS_ENCODINGS = [
    "x-bogus-42",
    "base64",
    "rot13",
    "hex",
    "zlib",
    "bz2",
    "uu",
    "utf-16",
    "UTF-16LE",
    "utf-32",
    "latin-1",
    "ISO-8859-1",
    "cp1252",
    "gbk",
    "utf-7",
    "cp500",
    "idna",
    "undefined",
    "utf-8-sig",
]


@pytest.mark.parametrize("encoding", BOGUS_ENCODINGS)
def test_an_xml_declaration_naming_another_encoding_is_a_400_before_the_signature(
    client, callbacks_on, encoding
):
    response = client.post(PROBE, data=declared(encoding) + ENCRYPT, content_type="text/xml")
    assert response.status_code == 400
    assert response.content == f"refused ({XML_ERROR})".encode()


@pytest.mark.parametrize("encoding", ["x-bogus-42", "base64", "rot13", "hex", "zlib"])
def test_with_debug_on_the_refusal_is_one_short_line(callbacks_on, settings, encoding):
    settings.DEBUG = True
    client = Client(raise_request_exception=False)
    response = client.post(PROBE, data=declared(encoding) + ENCRYPT, content_type="text/xml")
    assert response.status_code == 400
    assert len(response.content) < 40
    assert b"Traceback" not in response.content


@pytest.mark.parametrize(
    "body",
    [
        declared("rot13", quote="'") + ENCRYPT,
        b'<?xml version="1.0"  encoding = "hex" ?>' + ENCRYPT,
        b'<?xml version="1.0" encoding="utf-8" encoding="base64"?>' + ENCRYPT,
        b'<?xml version="1.0" encoding=?>' + ENCRYPT,
        b'<?xml encoding="utf-8"?>' + ENCRYPT,
        b'<?xml version="1.0" standalone="yes" encoding="hex"?>' + ENCRYPT,
        b'\n<?xml version="1.0" encoding="rot13"?>' + ENCRYPT,
        b'<?xml version="1.0" encoding="zlib"\x00?>' + ENCRYPT,
        b"\xef\xbb\xbf" + ENCRYPT,  # a BOM
        ENCRYPT.decode().encode("utf-16"),  # UTF-16 with its BOM
        ENCRYPT.decode().encode("utf-16-le"),
        b"<xml><Encrypt>\xe9t\xe9</Encrypt></xml>",  # latin-1 bytes, no declaration
        b"<xml><Encrypt>\xff\xfe\xfd</Encrypt></xml>",
        b"<xml><Encrypt>\xed\xa0\x80</Encrypt></xml>",  # a UTF-8-encoded surrogate
        b"<xml><Encrypt>a\x00</Encrypt></xml>",
        b'<?XML version="1.0" encoding="rot13"?>' + ENCRYPT,
        b'<?xml-stylesheet href="x"?><?xml version="1.0" encoding="hex"?>' + ENCRYPT,
        b'<xml><?xml version="1.0" encoding="zlib"?><Encrypt>a</Encrypt></xml>',
    ],
)
def test_malformed_declarations_and_bytes_are_a_400(client, callbacks_on, body):
    response = client.post(PROBE, data=body, content_type="text/xml")
    assert response.status_code == 400
    assert response.content == f"refused ({XML_ERROR})".encode()


def sealed_body(crypto, inner: str) -> tuple[str, bytes]:
    params, body = crypto.seal_post(inner, timestamp=str(SENT_AT), nonce="9", agent_id="1000002")
    return f"{URL}?{urlencode(params)}", body


@pytest.mark.parametrize(
    "recode",
    [
        lambda body: b"\xef\xbb\xbf" + body,  # a BOM
        lambda body: body.decode().encode("utf-16"),  # UTF-16 with its BOM
        lambda body: declared("latin-1") + body.replace(b"</xml>", b"<Note>\xe9</Note></xml>"),
    ],
    ids=["bom", "utf-16", "latin-1"],
)
def test_a_signed_event_that_is_not_plain_utf8_is_a_400(
    client, callbacks_on, reserved_lesson, recode
):
    url, body = sealed_body(callbacks_on, event_xml(reserved_lesson.livingid, 1))
    response = client.post(url, data=recode(body), content_type="text/xml")
    assert response.status_code == 400
    reserved_lesson.refresh_from_db()
    assert reserved_lesson.status == Living.Status.RESERVED


@pytest.mark.parametrize("encoding", ["UTF-8", "utf-8", "Utf-8", "utf8", "UTF8"])
def test_a_declaration_naming_utf8_is_read(client, callbacks_on, reserved_lesson, encoding):
    """WeCom sends no declaration; one naming UTF-8 (its usual spellings) is still read."""
    response = post_event(
        client, callbacks_on, event_xml(reserved_lesson.livingid, 1), declaration=declared(encoding)
    )
    assert response.status_code == 200
    reserved_lesson.refresh_from_db()
    assert reserved_lesson.status == Living.Status.LIVE


@pytest.mark.parametrize("encoding", ["x-bogus-42", "rot13", "utf-16", "latin-1"])
def test_a_signed_inner_xml_naming_another_encoding_is_a_400(
    client, callbacks_on, reserved_lesson, encoding
):
    inner = declared(encoding).decode() + event_xml(reserved_lesson.livingid, 1)
    response = post_event(client, callbacks_on, inner)
    assert response.status_code == 400
    reserved_lesson.refresh_from_db()
    assert reserved_lesson.status == Living.Status.RESERVED
    assert living_runs(reserved_lesson.livingid) == 0


@pytest.mark.parametrize("encoding", ["x-bogus-42", "base64", "utf-16", "latin-1"])
def test_parse_xml_refuses_another_encoding_with_an_xml_error(encoding):
    with pytest.raises(CallbackError) as caught:
        parse_xml(declared(encoding) + ENCRYPT)
    assert caught.value.code == XML_ERROR
    assert parse_xml(declared("utf-8") + ENCRYPT) == {"Encrypt": "a"}


# Finding 8: freshness ------------------------------------------------------------------------


@pytest.mark.parametrize("sent_at", [1500000000, SENT_AT - DAY - 31, SENT_AT + DAY + 31])
def test_a_signed_event_outside_the_window_is_a_400_and_queues_nothing(
    client, callbacks_on, reserved_lesson, sent_at, caplog
):
    with caplog.at_level(logging.INFO, logger="school_live.sync.callbacks"):
        response = post_event(
            client, callbacks_on, event_xml(reserved_lesson.livingid, 1), timestamp=str(sent_at)
        )
    assert response.status_code == 400
    reserved_lesson.refresh_from_db()
    assert reserved_lesson.status == Living.Status.RESERVED
    assert living_runs(reserved_lesson.livingid) == 0
    [refusal] = [r for r in caplog.records if "refused" in r.getMessage()]
    assert refusal.levelno == logging.INFO
    assert "timestamp" in refusal.getMessage()
    assert TOKEN not in caplog.text and AES_KEY not in caplog.text


@pytest.mark.parametrize("timestamp", ["abc", "", "1.7e9", "-1700000000", "+1700000000", "١٧"])
def test_a_signed_event_whose_timestamp_is_not_an_integer_is_a_400(
    client, callbacks_on, reserved_lesson, timestamp
):
    response = post_event(
        client, callbacks_on, event_xml(reserved_lesson.livingid, 1), timestamp=timestamp
    )
    assert response.status_code == 400
    reserved_lesson.refresh_from_db()
    assert reserved_lesson.status == Living.Status.RESERVED
    assert living_runs(reserved_lesson.livingid) == 0


@pytest.mark.parametrize("offset", [-DAY, DAY])
def test_the_window_is_a_day_either_way_by_default(
    client, callbacks_on, reserved_lesson, frozen_clock, offset
):
    frozen_clock(SENT_AT - offset)
    response = post_event(client, callbacks_on, event_xml(reserved_lesson.livingid, 1))
    assert response.status_code == 200
    reserved_lesson.refresh_from_db()
    assert reserved_lesson.status == Living.Status.LIVE


def test_the_window_is_a_setting(client, callbacks_on, reserved_lesson, settings, frozen_clock):
    frozen_clock(SENT_AT + 90)
    settings.WECOM_CALLBACK_MAX_SKEW_SECONDS = 60
    response = post_event(client, callbacks_on, event_xml(reserved_lesson.livingid, 1))
    assert response.status_code == 400
    settings.WECOM_CALLBACK_MAX_SKEW_SECONDS = 120
    assert (
        post_event(client, callbacks_on, event_xml(reserved_lesson.livingid, 1)).status_code == 200
    )


def test_a_fresh_signed_event_is_applied(client, callbacks_on, reserved_lesson):
    response = post_event(client, callbacks_on, event_xml(reserved_lesson.livingid, 1))
    assert response.status_code == 200
    reserved_lesson.refresh_from_db()
    assert reserved_lesson.status == Living.Status.LIVE
    assert living_runs(reserved_lesson.livingid) == 1


def send(client, request: tuple[str, bytes]):
    url, body = request
    return client.post(url, data=body, content_type="text/xml")


def test_an_exact_replay_is_answered_200_and_triggers_nothing(
    client, callbacks_on, reserved_lesson
):
    inner = event_xml(reserved_lesson.livingid, 1)
    request = sealed_body(callbacks_on, inner)
    assert send(client, request).status_code == 200
    assert living_runs(reserved_lesson.livingid) == 1
    # Whatever has happened since (the lesson's stored status, its sync done), the same request
    # again does nothing.
    Living.objects.filter(pk=reserved_lesson.pk).update(status=Living.Status.RESERVED)
    SyncRun.objects.update(status=SyncRun.Status.SUCCEEDED)
    assert send(client, request).status_code == 200
    reserved_lesson.refresh_from_db()
    assert reserved_lesson.status == Living.Status.RESERVED
    assert living_runs(reserved_lesson.livingid) == 1
    # Another delivery of the same event (sealed again: a new signature) is not a replay.
    assert send(client, sealed_body(callbacks_on, inner)).status_code == 200
    reserved_lesson.refresh_from_db()
    assert reserved_lesson.status == Living.Status.LIVE
    assert living_runs(reserved_lesson.livingid) == 2


def test_a_replay_stores_nothing_twice(client, callbacks_on, db, caplog):
    request = sealed_body(callbacks_on, event_xml("lv-unknown", 2))
    assert send(client, request).status_code == 200
    assert living_runs("lv-unknown") == 1
    Living.objects.filter(livingid="lv-unknown").delete()
    with caplog.at_level(logging.INFO, logger="school_live.sync.callbacks"):
        assert send(client, request).status_code == 200
    assert not Living.objects.filter(livingid="lv-unknown").exists()
    assert living_runs("lv-unknown") == 1
    assert "lv-unknown replayed" in caplog.text


def test_a_request_that_failed_is_not_taken_for_a_replay(
    callbacks_on, reserved_lesson, monkeypatch
):
    """A 500 (the database went away) leaves WeCom's retry of the same request to be applied."""

    def fails(event):
        raise DatabaseError("the database went away")

    request = sealed_body(callbacks_on, event_xml(reserved_lesson.livingid, 1))
    client = Client(raise_request_exception=False)
    with monkeypatch.context() as patch:
        patch.setattr(callbacks, "living_status_apply", fails)
        assert send(client, request).status_code == 500
    assert send(client, request).status_code == 200
    reserved_lesson.refresh_from_db()
    assert reserved_lesson.status == Living.Status.LIVE


# The URL check (GET) is signed with a timestamp too ----------------------------------------


def url_check(client):
    query = {"msg_signature": SIGNATURE, "timestamp": TIMESTAMP, "nonce": NONCE}
    return client.get(URL, {**query, "echostr": ECHOSTR})


def test_the_url_check_is_answered_near_its_timestamp(client, db, callbacks_on, frozen_clock):
    frozen_clock(int(TIMESTAMP) - 60)
    response = url_check(client)
    assert (response.status_code, response.content) == (200, b"1616140317555161061")


def test_a_stale_url_check_is_refused(client, callbacks_on, frozen_clock):
    frozen_clock(int(TIMESTAMP) + DAY + 1)
    response = url_check(client)
    assert response.status_code == 400
    assert b"1616140317555161061" not in response.content


def test_a_url_check_with_a_bad_timestamp_is_refused(client, callbacks_on):
    query = {"msg_signature": SIGNATURE, "timestamp": "abc", "nonce": NONCE, "echostr": ECHOSTR}
    assert client.get(URL, query).status_code == 400
