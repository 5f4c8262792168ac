"""WeCom's callback crypto against the official test vector (api.md §16) and hostile input."""

import base64

import pytest

from school_live.wecom.callback_crypto import (
    AES_KEY_ERROR,
    BASE64_ERROR,
    DECRYPT_ERROR,
    RECEIVE_ID_ERROR,
    SIGNATURE_ERROR,
    XML_ERROR,
    CallbackCrypto,
    CallbackError,
    living_status_change,
    parse_xml,
)
from tests.fixtures.callbacks import (
    AES_KEY,
    CORP_ID,
    ECHOSTR,
    NONCE,
    SIGNATURE,
    TIMESTAMP,
    TOKEN,
)


@pytest.fixture
def crypto():
    return CallbackCrypto(token=TOKEN, encoding_aes_key=AES_KEY, receive_id=CORP_ID)


def test_official_url_check_vector_verifies_and_decrypts(crypto):
    assert crypto.verify_url(SIGNATURE, TIMESTAMP, NONCE, ECHOSTR) == "1616140317555161061"


def test_encrypt_reproduces_the_official_ciphertext_with_its_random_prefix(crypto):
    # The first AES block of the plaintext is the 16 random bytes: decrypt them, then encrypt again.
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = base64.b64decode(AES_KEY + "=")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(ECHOSTR)) + decryptor.finalize()
    assert plain[-7:] == bytes([7]) * 7  # 7 bytes of padding to a multiple of 32
    again = crypto.encrypt("1616140317555161061", random_prefix=plain[:16])
    assert again == ECHOSTR


def test_forged_signature_is_refused(crypto):
    with pytest.raises(CallbackError) as caught:
        crypto.verify_url("0" * 40, TIMESTAMP, NONCE, ECHOSTR)
    assert caught.value.code == SIGNATURE_ERROR


def test_another_corp_id_is_refused():
    other = CallbackCrypto(token=TOKEN, encoding_aes_key=AES_KEY, receive_id="wwanothercorp")
    with pytest.raises(CallbackError) as caught:
        other.verify_url(SIGNATURE, TIMESTAMP, NONCE, ECHOSTR)
    assert caught.value.code == RECEIVE_ID_ERROR


def test_wrong_key_does_not_decrypt(crypto):
    wrong = CallbackCrypto(token=TOKEN, encoding_aes_key="a" * 43, receive_id=CORP_ID)
    with pytest.raises(CallbackError) as caught:
        wrong.decrypt(ECHOSTR)
    assert caught.value.code in {DECRYPT_ERROR, RECEIVE_ID_ERROR, -40008}


@pytest.mark.parametrize("payload", ["not base64!", "", "QUJD"])
def test_garbage_payload_is_a_callback_error(crypto, payload):
    with pytest.raises(CallbackError) as caught:
        crypto.decrypt(payload)
    assert caught.value.code in {BASE64_ERROR, DECRYPT_ERROR}


@pytest.mark.parametrize("key", ["short", "!" * 43])
def test_malformed_encoding_aes_key_says_what_to_do(key):
    with pytest.raises(CallbackError) as caught:
        CallbackCrypto(token=TOKEN, encoding_aes_key=key, receive_id=CORP_ID)
    assert caught.value.code == AES_KEY_ERROR
    assert "WECOM_CALLBACK_AES_KEY" in str(caught.value)


def test_sealed_event_round_trips(crypto):
    inner = (
        "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>"
        "<FromUserName><![CDATA[zhangsan]]></FromUserName><CreateTime>1348831860</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[living_status_change]]></Event>"
        "<LivingId><![CDATA[LIVINGID]]></LivingId><Status>1</Status><AgentID>1000002</AgentID></xml>"
    )
    params, body = crypto.seal_post(inner, timestamp="1700000000", nonce="42", agent_id="1000002")
    opened = crypto.open_post(params["msg_signature"], params["timestamp"], params["nonce"], body)
    event = living_status_change(parse_xml(opened))
    assert event.livingid == "LIVINGID"
    assert event.status == 1
    assert event.create_time == 1348831860
    assert event.from_user == "zhangsan"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<xml><Encrypt>",
        b"<notxml><Encrypt>x</Encrypt></notxml>",
        b'<!DOCTYPE xml [<!ENTITY a "aaaa">]><xml><Encrypt>&a;</Encrypt></xml>',
        b"<xml><ToUserName>x</ToUserName></xml>",
    ],
)
def test_malformed_xml_is_an_xml_error(crypto, body):
    with pytest.raises(CallbackError) as caught:
        crypto.open_post("sig", "1", "2", body)
    assert caught.value.code == XML_ERROR


def test_other_events_are_ignored_and_bad_status_refused():
    assert living_status_change({"MsgType": "event", "Event": "enter_agent"}) is None
    with pytest.raises(CallbackError):
        living_status_change(
            {"MsgType": "event", "Event": "living_status_change", "LivingId": "x", "Status": "9"}
        )
    with pytest.raises(CallbackError):
        living_status_change({"MsgType": "event", "Event": "living_status_change", "Status": "1"})


def test_repr_and_errors_never_show_the_key(crypto):
    assert AES_KEY not in repr(crypto) and TOKEN not in repr(crypto)
    with pytest.raises(CallbackError) as caught:
        crypto.verify_url("0" * 40, TIMESTAMP, NONCE, ECHOSTR)
    assert AES_KEY not in str(caught.value) and TOKEN not in str(caught.value)
