"""What a teacher or the school's administrator should do about a WeCom failure, in their words.

``error_text(error, doing=...)`` is the one place that explains WeCom's errcodes to people: the
pages show it, never an errcode of their own. ``str(error)`` (errors.py) stays the admin's detail,
shown inside these texts where only an admin can act.
"""

from django.utils.translation import gettext as _

from school_live.wecom.errors import (
    ALL_RECIPIENTS_INVALID,
    API_FORBIDDEN,
    CONFIG_ERROR,
    UNKNOWN_USERIDS,
    WRONG_AGENT,
    WeComError,
    WeComTransientError,
    errcode_transient,
)

# What the person was doing when WeCom failed.
REMINDER = "reminder"  # sending a 学校通知 to the families (nothing was sent)
LESSON = "lesson"  # scheduling, changing or starting a lesson


def error_text(error: WeComError, *, doing: str) -> str:
    """``error`` (a live one, or a ``StoredWeComError``) in words that say who fixes what."""
    if doing == LESSON:
        return _lesson_text(error)
    if doing == REMINDER:
        return _reminder_text(error)
    raise ValueError(f"doing must be {REMINDER!r} or {LESSON!r}, not {doing!r}")


def _lesson_text(error: WeComError) -> str:
    if error.transient:
        return _("WeCom is busy right now. Wait a minute, then submit again.")
    if error.errcode in UNKNOWN_USERIDS:
        return _(
            "WeCom does not know your account as a teacher of this school. Ask the school's "
            "administrator to check the WeCom address book, then try again."
        )
    return _(
        "WeCom refused the lesson. Ask the school's administrator to check the WeCom app "
        "(details for them: %(detail)s)."
    ) % {"detail": str(error)}


def _reminder_text(error: WeComError) -> str:
    errcode = error.errcode
    detail = str(error)
    if isinstance(error, WeComTransientError) or errcode_transient(errcode):
        return _("WeCom is busy right now and nothing was sent. Try again in a minute.")
    if errcode == API_FORBIDDEN:
        return _(
            "WeCom does not let this app send 学校通知 to parents. The school's administrator "
            "must add the app to 「家长可使用的应用」 in the WeCom admin console (应用管理 → "
            "家校沟通), then try again. Nothing was sent."
        )
    if errcode == WRONG_AGENT:
        return _(
            "The app secret belongs to another WeCom app. The school's administrator must set "
            "WECOM_SECRET to the secret of this self-built app, the one whose AgentId is "
            "WECOM_AGENT_ID. Nothing was sent."
        )
    if errcode == ALL_RECIPIENTS_INVALID:
        return _(
            "WeCom could reach none of these families (none follows 学校通知 or is within the "
            "app's allowed range). Nothing was sent."
        )
    if errcode == CONFIG_ERROR:
        return _("WeCom is not configured: %(detail)s") % {"detail": detail}
    return _(
        "WeCom refused the reminder; nothing was sent. Details for the school's administrator: "
        "%(detail)s"
    ) % {"detail": detail}
