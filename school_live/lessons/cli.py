"""What the lesson commands (schedule_living, import_timetable) share: the WeCom client and the
words for a WeCom failure half-way. Database preparation and quiet logs come from sync/cli.py."""

from django.utils.translation import gettext as _

from school_live.lessons.models import LessonOccurrence
from school_live.lessons.services import LessonPlan, plan_occurrences, plan_unsent_forget
from school_live.wecom.client import WeComClient
from school_live.wecom.errors import WeComError


class CommandLineError(Exception):
    """The one line a command prints on stderr before it exits with status 1."""


def client_make() -> WeComClient:
    """The WeCom client of the settings; a missing WECOM_CORP_ID or WECOM_SECRET is the line."""
    try:
        return WeComClient.from_settings()
    except WeComError as error:
        raise CommandLineError(
            _("%(error)s Nothing was created; set it and run the command again.") % {"error": error}
        ) from None


def wecom_failure_text(plan: LessonPlan, error: WeComError) -> str:
    """What a WeCom failure while creating the plan's lessons left behind, and what to do.

    Occurrences WeCom certainly never created are dropped first (``plan_unsent_forget``), so a
    refusal of the first lesson leaves nothing here either; the same command run again creates
    only what is missing, and finds a lesson whose reply was lost instead of creating it twice.
    """
    plan_unsent_forget(plan)
    states = list(plan_occurrences(plan).values_list("state", flat=True))
    created = states.count(LessonOccurrence.State.CREATED)
    uncertain = len(states) - created
    if not states:
        done = _("Nothing was created; run the same command again once this is fixed.")
    else:
        done = _(
            "%(created)d of %(weeks)d lessons were created; run the same command again to "
            "create the rest (none is created twice)."
        ) % {"created": created, "weeks": plan.weeks}
        if uncertain:
            done += " " + _(
                "WeCom may have created %(n)d more without answering: the next run looks for "
                "it before creating anything."
            ) % {"n": uncertain}
    return f"{str(error).rstrip('.')}. {done}"
