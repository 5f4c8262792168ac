import os

from celery import Celery
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    task_postrun,
    task_prerun,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "school_live.settings")

app = Celery("school_live")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@after_setup_logger.connect
@after_setup_task_logger.connect
def redact_worker_logs(logger, **kwargs):
    """Celery gives the worker's and the tasks' loggers handlers of its own, outside Django's
    LOGGING: put the same redaction on them, so no access token or secret reaches a worker log."""
    from school_live.wecom.redact import RedactSecretsFilter

    for handler in logger.handlers:
        if not any(isinstance(f, RedactSecretsFilter) for f in handler.filters):
            handler.addFilter(RedactSecretsFilter())


@task_prerun.connect
@task_postrun.connect
def database_connections_check(sender=None, **kwargs):
    """What Django does around each request: drop a connection past CONN_MAX_AGE or broken, and
    check the others before their next use (CONN_HEALTH_CHECKS). Celery's own closing of every
    connection around every task is spaced out by CELERY_DB_REUSE_MAX (settings)."""
    from django.db import close_old_connections

    if sender is not None and getattr(sender.request, "is_eager", False):
        return  # run in the caller's process (a test's), inside the caller's transaction
    close_old_connections()
