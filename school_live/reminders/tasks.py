"""The automatic reminder, every minute from Celery beat (seeded by migration 0002)."""

from celery import shared_task

from .services import auto_reminders_send


# Not retried: the next minute's run picks up whatever is still due (a transient failure too).
@shared_task(name="reminders.send_automatic", acks_late=True, ignore_result=True)
def auto_reminders_task() -> int:
    return len(auto_reminders_send())
