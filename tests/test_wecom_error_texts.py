"""error_text (wecom/error_texts.py): the one place that tells a teacher or the admin what to do
about a WeCom failure. Each errcode the product explains, in both the words of a reminder and of
a lesson, and a stored failure read the same as the live one."""

import pytest
from django.utils import translation

from school_live.wecom.error_texts import LESSON, REMINDER, error_text
from school_live.wecom.errors import (
    ALL_RECIPIENTS_INVALID,
    API_FORBIDDEN,
    BUSY,
    CONFIG_ERROR,
    FREQUENCY_LIMIT,
    HTTP_ERROR,
    NETWORK_ERROR,
    WRONG_AGENT,
    StoredWeComError,
    WeComConfigError,
    WeComError,
    WeComTransientError,
    errcode_transient,
    error_for,
)

NOTICE = "externalcontact/message/send"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.mark.parametrize(
    ("errcode", "words"),
    [
        (API_FORBIDDEN, "「家长可使用的应用」"),
        (WRONG_AGENT, "WECOM_SECRET to the secret of this self-built app"),
        (ALL_RECIPIENTS_INVALID, "could reach none of these families"),
        (BUSY, "busy right now and nothing was sent"),
        (FREQUENCY_LIMIT, "busy right now and nothing was sent"),
        (NETWORK_ERROR, "busy right now and nothing was sent"),
        (HTTP_ERROR, "busy right now and nothing was sent"),
        (40058, "WeCom refused the reminder; nothing was sent."),
        (None, "WeCom refused the reminder; nothing was sent."),
    ],
)
def test_a_reminder_failure_says_who_fixes_what_live_or_stored(errcode, words):
    live = error_for(errcode, "no", NOTICE) if errcode is not None else None
    stored = StoredWeComError(errcode, str(live) if live else "lost")
    assert words in error_text(stored, doing=REMINDER)
    if live is not None:
        assert error_text(live, doing=REMINDER) == error_text(stored, doing=REMINDER)


def test_a_reminder_names_the_admins_detail_when_wecom_is_not_configured():
    error = WeComConfigError(CONFIG_ERROR, "WECOM_SECRET is not set", "settings")
    text = error_text(error, doing=REMINDER)
    assert text.startswith("WeCom is not configured:") and "WECOM_SECRET is not set" in text


def test_a_transient_error_of_any_errcode_reads_as_busy():
    error = WeComTransientError(-6, "budget", NOTICE)  # our own budget, not WeCom's code
    assert "busy right now" in error_text(error, doing=REMINDER)
    assert "Wait a minute, then submit again" in error_text(error, doing=LESSON)


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (error_for(BUSY, "busy", "living/create"), "Wait a minute, then submit again."),
        (WeComError(40003, "invalid userid", "living/create"), "does not know your account"),
        (WeComError(60111, "userid not found", "living/create"), "does not know your account"),
        (WeComError(92006, "started", "living/modify"), "WeCom refused the lesson."),
    ],
)
def test_a_lesson_failure_says_who_fixes_what(error, words):
    assert words in error_text(error, doing=LESSON)


def test_the_lesson_text_carries_the_admins_detail():
    error = WeComError(48002, "api forbidden", "living/create")
    assert str(error) in error_text(error, doing=LESSON)


def test_an_unknown_context_is_a_programming_error():
    with pytest.raises(ValueError):
        error_text(WeComError(BUSY, "busy", "x"), doing="dance")


def test_the_transient_errcodes():
    assert all(map(errcode_transient, [BUSY, FREQUENCY_LIMIT, 45033, NETWORK_ERROR, HTTP_ERROR]))
    assert not any(map(errcode_transient, [None, 0, API_FORBIDDEN, 92008, CONFIG_ERROR, -4]))
