"""The automatic reminder, every minute from Celery beat (seeded by migration 0002)."""

from celery import shared_task

from school_live.school.tenancy import default_school

from .services import auto_reminders_send


# Not retried: the next minute's run picks up whatever is still due (a transient failure too).
@shared_task(name="reminders.send_automatic", acks_late=True, ignore_result=True)
def auto_reminders_task() -> int:
    # The default school's, sent through its client (the settings').
    return len(auto_reminders_send(school=default_school()))
