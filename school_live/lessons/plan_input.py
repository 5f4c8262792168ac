"""What an admin typed — a command's options or a timetable's cells — read into a ``LessonPlan``.

Each reader raises ``InputError`` with a message that names the field, shows what was given and
says what is expected, so a command can print it as its one line. Nothing here calls WeCom.
"""

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _

from school_live.lessons.models import LessonSeries
from school_live.lessons.services import LessonPlan, teacher_classes
from school_live.school.models import Department, Teacher

TYPES = {"big": LessonSeries.Type.BIG_CLASS, "small": LessonSeries.Type.SMALL_CLASS}


class InputError(ValueError):
    """A value an admin gave that cannot be used; the message says what to give instead."""


def start_read(text: str, *, field: str = "--start") -> dt.datetime:
    """ "YYYY-MM-DD HH:MM" in Asia/Shanghai, aware."""
    expected = _('"YYYY-MM-DD HH:MM" (Asia/Shanghai time)')
    return _parse(text, "%Y-%m-%d %H:%M", field, expected).replace(
        tzinfo=timezone.get_default_timezone()
    )


def date_read(text: str, *, field: str) -> dt.date:
    return _parse(text, "%Y-%m-%d", field, _("a date as YYYY-MM-DD")).date()


def time_read(text: str, *, field: str) -> dt.time:
    return _parse(text, "%H:%M", field, _("a time as HH:MM, e.g. 08:00")).time()


def _parse(text: str, form: str, field: str, expected: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(text.strip(), form)
    except ValueError:
        raise InputError(
            _('%(field)s: expected %(expected)s, got "%(value)s".')
            % {"field": field, "expected": expected, "value": text}
        ) from None


def number_read(text: str | int, *, field: str, low: int, high: int) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise InputError(
            _('%(field)s: expected a whole number from %(low)d to %(high)d, got "%(value)s".')
            % {"field": field, "low": low, "high": high, "value": text}
        )
    return value


def type_read(text: str, *, field: str = "--type") -> int:
    """``big`` (大班课) or ``small`` (小班课); empty is big."""
    key = text.strip().lower() or "big"
    if key not in TYPES:
        raise InputError(
            _('%(field)s: expected "big" (大班课) or "small" (小班课), got "%(value)s".')
            % {"field": field, "value": text}
        )
    return TYPES[key]


def teacher_read(userid: str, *, school) -> Teacher:
    """The school's active teacher with this WeCom userid."""
    teacher = Teacher.objects.filter(
        school=school, userid__iexact=userid.strip(), is_active=True
    ).first()
    if teacher is None:
        raise InputError(
            _(
                'No teacher with the WeCom userid "%(userid)s": check the userid '
                "(通讯录 → the teacher → 账号), or run python manage.py sync_school if the "
                "teacher is new."
            )
            % {"userid": userid}
        )
    return teacher


def classes_read(teacher: Teacher, ids: list[str], *, field: str = "--class") -> list[Department]:
    """The classes of the teacher's school by WeCom department id, each one the teacher
    teaches."""
    wanted = []
    for text in ids:
        try:
            number = int(str(text).strip())
        except ValueError:
            raise InputError(
                _('%(field)s: expected a class\'s WeCom department id (a number), got "%(value)s".')
                % {"field": field, "value": text}
            ) from None
        if number not in wanted:
            wanted.append(number)
    found = {
        department.wecom_id: department
        for department in Department.objects.filter(school=teacher.school_id, wecom_id__in=wanted)
    }
    taught = list(teacher_classes(teacher).order_by("wecom_id"))
    for number in wanted:
        department = found.get(number)
        if department is None or department.type != Department.Type.CLASS:
            raise InputError(
                _(
                    "No class with the WeCom department id %(id)s: use a class id "
                    "(%(teacher)s teaches %(taught)s), or run python manage.py sync_school if "
                    "the class is new."
                )
                % {"id": number, "teacher": teacher_text(teacher), "taught": _classes_text(taught)}
            )
        if department not in taught:
            raise InputError(
                _(
                    "%(teacher)s does not teach %(class)s (id %(id)s): choose one "
                    "of their classes, %(taught)s, or assign the teacher to the class in WeCom "
                    "and run python manage.py sync_school."
                )
                % {
                    "teacher": teacher_text(teacher),
                    "class": department.name,
                    "id": department.wecom_id,
                    "taught": _classes_text(taught),
                }
            )
    return [found[number] for number in wanted]


def teacher_text(teacher: Teacher) -> str:
    """``林静 (linjing)``, or the userid alone when WeCom gave no name."""
    if teacher.name and teacher.name != teacher.userid:
        return f"{teacher.name} ({teacher.userid})"
    return teacher.userid


def _classes_text(classes: list[Department]) -> str:
    if not classes:
        return _("no class")
    return ", ".join(f"{department.name} ({department.wecom_id})" for department in classes)


def first_on_weekday(first_date: dt.date, weekday: int) -> dt.date:
    """The first date on or after ``first_date`` that is ``weekday`` (1 Monday … 7 Sunday)."""
    return first_date + dt.timedelta(days=(weekday - 1 - first_date.weekday()) % 7)


def plan_text(plan: LessonPlan) -> str:
    """e.g. ``“数学：认识钟表” · 林静 (linjing) · 一年级一班 · 2025-09-01 08:00, 40 min``."""
    when = _("%(start)s, %(minutes)d min") % {
        "start": plan.start.astimezone(timezone.get_default_timezone()).strftime("%Y-%m-%d %H:%M"),
        "minutes": plan.minutes,
    }
    if plan.weeks > 1:
        when += _(", every week for %(n)d weeks") % {"n": plan.weeks}
    classes = ", ".join(department.name for department in plan.classes)
    return f"“{plan.theme.strip()}” · {teacher_text(plan.teacher)} · {classes} · {when}"
