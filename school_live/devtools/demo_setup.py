"""What the demo sets in the database before it runs: the leftovers of an earlier run closed,
fast schedules, and fresh logins. Each is safe to repeat: a second demo brings the same rows to
the same state."""

import base64
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Count, Q
from django.utils import timezone

from school_live.school.models import ClassAssignment, SyncRun, Teacher

DEMO_ADMIN = "demo-admin"
# Tasks made fast while the demo runs (task paths of sync/schedule.py's table).
FAST_TASKS = (
    "sync.sweep_recent_livings",
    "sync.discover_livings",
    "school_live.reports.tasks.check_living_reports",
)


def callback_secrets() -> tuple[str, str]:
    """A 接收消息 Token and EncodingAESKey for one demo run, shaped as WeCom's admin console makes
    them: the key is 43 letters and digits (base64 of 32 random bytes without the "=")."""
    while True:
        key = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        if key.isalnum():
            return secrets.token_urlsafe(24), key


def database_label() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"SQLite {db['NAME']}"
    return f"{db['ENGINE'].rsplit('.', 1)[-1]} {db.get('NAME', '')}"


def forget_previous_run() -> None:
    """A demo stopped mid-sync leaves runs queued or running and living locks behind; no
    worker of this demo runs yet, so they are over. The cache also holds the previous
    sandbox's access token."""
    SyncRun.objects.filter(status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]).update(
        status=SyncRun.Status.FAILED,
        finished_at=timezone.now(),
        error="Interrupted: the demo stopped before this run finished.",
    )
    cache.clear()


def schedule_fast(*, seconds: int) -> None:
    """Sweep, discovery and the report check run every `seconds` while the demo runs, so a
    lesson that ends is synced and reported within a minute or two."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    interval, _ = IntervalSchedule.objects.get_or_create(
        every=seconds, period=IntervalSchedule.SECONDS
    )
    # save(), not update(): a running beat notices changes through the save signal. A task
    # seeded as several rows (discovery by day and by night) keeps one fast row.
    seen: set[str] = set()
    for task in PeriodicTask.objects.filter(task__in=FAST_TASKS).order_by("task", "pk"):
        if task.task in seen:
            task.enabled = False
        else:
            seen.add(task.task)
            task.interval = interval
            task.crontab = task.solar = task.clocked = None
            task.enabled = True
        task.save()


def make_logins(*, class_id: int) -> list[tuple[str, str, str, str]]:
    """(label, username, password, note) for an admin, the 班主任 and a 任课老师 of the demo
    lesson's class. Every run sets new passwords, so an old one never keeps working."""
    user_model = get_user_model()
    admin, _ = user_model.objects.get_or_create(username=DEMO_ADMIN)
    admin.is_staff = admin.is_superuser = admin.is_active = True
    admin.email = admin.email or "demo-admin@school.example"
    password = secrets.token_urlsafe(9)
    admin.set_password(password)
    admin.save()
    logins = [("管理员 / admin", DEMO_ADMIN, password, "")]

    for role, label in (
        (ClassAssignment.Role.HEAD, "班主任 / head teacher"),
        (ClassAssignment.Role.SUBJECT, "任课老师 / subject teacher"),
    ):
        taken = [username for _, username, _, _ in logins]
        assignment = pick_assignment(role=role, class_id=class_id, exclude=taken)
        if assignment is None:
            continue
        teacher = assignment.teacher
        user = teacher.user or user_model.objects.filter(username=teacher.userid).first()
        user = user or user_model(username=teacher.userid)
        user.is_active = True
        password = secrets.token_urlsafe(9)
        user.set_password(password)
        user.save()
        if teacher.user_id != user.pk:
            teacher.user = user
            teacher.save(update_fields=["user"])
        give_report_address(teacher)
        subject = f" {assignment.subject}" if assignment.subject else ""
        name = f"{teacher.name}, " if teacher.name else ""
        note = f"  ({name}{assignment.department.name}{subject})"
        logins.append((label, user.username, password, note))
    return logins


def pick_assignment(*, role: str, class_id: int, exclude: list[str]) -> ClassAssignment | None:
    """A teacher of the demo lesson's class, else of the class with the most recent lessons."""
    recent = timezone.now() - timedelta(days=30)
    candidates = (
        ClassAssignment.objects.filter(role=role, teacher__is_active=True)
        .exclude(teacher__userid__in=exclude)
        .select_related("teacher", "department")
    )
    mine = candidates.filter(department_id=class_id).order_by("teacher__userid").first()
    return mine or (
        candidates.annotate(
            recent=Count(
                "department__livings", filter=Q(department__livings__living_start__gte=recent)
            )
        )
        .order_by("-recent", "department_id", "teacher__userid")
        .first()
    )


def give_report_address(teacher: Teacher) -> None:
    """The sandbox's teachers have no email address; the demo's teachers get one so their
    lesson reports reach the mail sink."""
    try:
        from school_live.reports.models import ReportPreference
    except ImportError:  # reports not installed: nothing to address
        return
    preference = ReportPreference.for_teacher(teacher)
    if not preference.email_override:
        preference.email_override = f"{teacher.userid}@school.example"
        preference.save()
