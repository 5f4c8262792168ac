"""The school as WeCom describes it, keyed by WeCom's natural keys.

Departments use WeCom's department id as their primary key, so class ids from WeCom (``partyids``,
``living_range.partyids``) are foreign keys as they stand. Watch rows keep ``student_userid`` as
WeCom sent it and join to the roster through a foreign key without a database constraint: a row for
a student the roster does not know yet is stored, not dropped.
"""

import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def from_unix(seconds: int | None) -> dt.datetime | None:
    """WeCom's Unix seconds as an aware datetime; 0 (not known yet) becomes None."""
    if not seconds:
        return None
    return dt.datetime.fromtimestamp(int(seconds), tz=dt.UTC)


def to_unix(moment: dt.datetime | None) -> int:
    """The exact Unix seconds WeCom sent; None goes back to 0."""
    if moment is None:
        return 0
    return int(moment.timestamp())


class Department(models.Model):
    class Type(models.IntegerChoices):
        # WeCom doc 92343: school/department/list `type`.
        CLASS = 1, _("class")
        GRADE = 2, _("grade")
        STAGE = 3, _("stage")
        CAMPUS = 4, _("campus")
        SCHOOL = 5, _("school")

    id = models.BigIntegerField(_("WeCom department id"), primary_key=True)
    name = models.CharField(_("name"), max_length=200)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="children",
    )
    type = models.PositiveSmallIntegerField(_("type"), choices=Type.choices)
    register_year = models.PositiveSmallIntegerField(_("register year"), null=True, blank=True)
    standard_grade = models.PositiveSmallIntegerField(_("standard grade"), null=True, blank=True)
    graduated = models.BooleanField(_("graduated"), default=False)
    order = models.BigIntegerField(_("order"), default=0)
    is_active = models.BooleanField(
        _("in WeCom"), default=True, help_text=_("Cleared when WeCom no longer lists it.")
    )
    present_threshold = models.PositiveSmallIntegerField(
        _("present threshold (%)"),
        null=True,
        blank=True,
        help_text=_("Leave empty to use the school default."),
    )
    synced_at = models.DateTimeField(_("synced at"), null=True, blank=True)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["type", "-order", "id"]
        indexes = [models.Index(fields=["type", "is_active"])]

    def __str__(self):
        return self.name


class Teacher(models.Model):
    userid = models.CharField(_("WeCom userid"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=100, blank=True)
    email = models.EmailField(_("email"), blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("login"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="teacher",
    )
    is_active = models.BooleanField(_("in WeCom"), default=True)
    synced_at = models.DateTimeField(_("synced at"), null=True, blank=True)

    class Meta:
        verbose_name = _("teacher")
        verbose_name_plural = _("teachers")
        ordering = ["userid"]

    def __str__(self):
        return self.name or self.userid


class ClassAssignment(models.Model):
    class Role(models.TextChoices):
        # department_admins[].type 3 and 4.
        HEAD = "head", _("head teacher")
        SUBJECT = "subject", _("subject teacher")

    teacher = models.ForeignKey(
        Teacher, verbose_name=_("teacher"), on_delete=models.CASCADE, related_name="assignments"
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("class"),
        on_delete=models.CASCADE,
        related_name="assignments",
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    subject = models.CharField(_("subject"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("class assignment")
        verbose_name_plural = _("class assignments")
        constraints = [
            models.UniqueConstraint(
                fields=["teacher", "department", "role", "subject"], name="unique_assignment"
            )
        ]

    def __str__(self):
        return f"{self.teacher} · {self.department} · {self.get_role_display()}"


class Student(models.Model):
    student_userid = models.CharField(_("WeCom student userid"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=100)
    classes = models.ManyToManyField(
        Department,
        verbose_name=_("classes"),
        through="Enrollment",
        related_name="students",
        blank=True,
    )
    is_active = models.BooleanField(_("in WeCom"), default=True)
    synced_at = models.DateTimeField(_("synced at"), null=True, blank=True)

    class Meta:
        verbose_name = _("student")
        verbose_name_plural = _("students")
        ordering = ["name", "student_userid"]

    def __str__(self):
        return self.name or self.student_userid


class Enrollment(models.Model):
    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="enrollments")
    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="enrollments")

    class Meta:
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        constraints = [
            models.UniqueConstraint(fields=["student", "department"], name="unique_enrollment")
        ]

    def __str__(self):
        return f"{self.student} · {self.department}"


class Parent(models.Model):
    parent_userid = models.CharField(_("WeCom parent userid"), max_length=64, unique=True)
    mobile = models.CharField(_("mobile"), max_length=32, blank=True)
    is_subscribed = models.BooleanField(
        _("follows 学校通知"),
        default=False,
        help_text=_("Only families that follow 学校通知 can be reached and counted by WeCom."),
    )
    external_userid = models.CharField(_("external userid"), max_length=64, blank=True)
    children = models.ManyToManyField(
        Student, through="Guardianship", related_name="parents", blank=True
    )
    is_active = models.BooleanField(_("in WeCom"), default=True)
    synced_at = models.DateTimeField(_("synced at"), null=True, blank=True)

    class Meta:
        verbose_name = _("parent")
        verbose_name_plural = _("parents")
        ordering = ["parent_userid"]

    def __str__(self):
        return self.parent_userid


class Guardianship(models.Model):
    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="guardianships")
    parent = models.ForeignKey(Parent, on_delete=models.CASCADE, related_name="guardianships")
    relation = models.CharField(_("relation"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("guardianship")
        verbose_name_plural = _("guardianships")
        constraints = [
            models.UniqueConstraint(fields=["student", "parent"], name="unique_guardianship")
        ]

    def __str__(self):
        return f"{self.parent} → {self.student} ({self.relation})"


class Living(models.Model):
    class Status(models.IntegerChoices):
        """WeCom's status of a living (doc 94145), as our creation and its callbacks told us."""

        RESERVED = 0, _("reserved")  # 预约中
        LIVE = 1, _("live")  # 直播中
        ENDED = 2, _("ended")  # 已结束
        EXPIRED = 3, _("expired")  # 已过期
        CANCELLED = 4, _("cancelled")  # 已取消

    livingid = models.CharField(_("WeCom living id"), max_length=128, unique=True)
    theme = models.CharField(_("theme"), max_length=255, blank=True)
    living_start = models.DateTimeField(_("start"), null=True, blank=True)
    living_duration = models.PositiveIntegerField(_("duration (s)"), default=0)
    anchor_userid = models.CharField(_("anchor userid"), max_length=64, blank=True, db_index=True)
    range_partyids = models.JSONField(_("range class ids"), default=list, blank=True)
    range_group_names = models.JSONField(_("range group names"), default=list, blank=True)
    classes = models.ManyToManyField(
        Department,
        verbose_name=_("classes"),
        related_name="livings",
        blank=True,
        help_text=_("The known classes among the living's range."),
    )
    planned_classes = models.ManyToManyField(
        Department,
        verbose_name=_("planned classes"),
        related_name="planned_livings",
        blank=True,
        help_text=_(
            "The classes the lesson was scheduled for in school_live. WeCom's living_range wins "
            "once it names classes."
        ),
    )
    status = models.PositiveSmallIntegerField(
        _("WeCom status"), choices=Status.choices, null=True, blank=True
    )
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    viewer_num = models.PositiveIntegerField(_("viewers"), default=0)
    comment_num = models.PositiveIntegerField(_("comments"), default=0)
    open_replay = models.BooleanField(_("replay open"), default=False)
    info_synced_at = models.DateTimeField(_("info synced at"), null=True, blank=True)
    stats_synced_at = models.DateTimeField(_("stats synced at"), null=True, blank=True)
    stats_complete = models.BooleanField(
        _("stats complete"),
        default=False,
        help_text=_("Set when the last sync read every page after the living had ended."),
    )

    class Meta:
        verbose_name = _("living")
        verbose_name_plural = _("livings")
        ordering = ["-living_start"]
        indexes = [models.Index(fields=["living_start"])]

    def __str__(self):
        return self.theme or self.livingid

    @property
    def living_end(self) -> dt.datetime | None:
        if self.living_start is None:
            return None
        return self.living_start + dt.timedelta(seconds=self.living_duration)

    @property
    def has_ended(self) -> bool:
        end = self.living_end
        return end is not None and end <= timezone.now()


class StudentWatch(models.Model):
    """One row of get_watch_stat's ``stat_infoes.students``, as WeCom sent it."""

    living = models.ForeignKey(Living, on_delete=models.CASCADE, related_name="watches")
    student = models.ForeignKey(
        Student,
        to_field="student_userid",
        db_column="student_userid",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="watches",
        verbose_name=_("student userid"),
    )
    parent_userid = models.CharField(
        _("parent userid"),
        max_length=64,
        blank=True,
        help_text=_("Empty when the student watched on their own account."),
    )
    partyids = models.JSONField(_("class ids"), default=list)
    watch_time = models.PositiveIntegerField(_("watch time (s)"))
    enter_time = models.DateTimeField(_("first entry"), null=True, blank=True)
    leave_time = models.DateTimeField(_("last exit"), null=True, blank=True)
    is_comment = models.BooleanField(_("commented"), default=False)

    class Meta:
        verbose_name = _("student watch row")
        verbose_name_plural = _("student watch rows")
        constraints = [
            models.UniqueConstraint(
                fields=["living", "student", "parent_userid"], name="unique_student_watch"
            )
        ]

    def __str__(self):
        return f"{self.student_id} @ {self.living_id}"


class VisitorWatch(models.Model):
    """One row of ``stat_infoes.visitors``. Nicknames are not unique; ``position`` is the key."""

    living = models.ForeignKey(Living, on_delete=models.CASCADE, related_name="visitors")
    position = models.PositiveIntegerField(_("position"))
    nickname = models.TextField(_("nickname"), blank=True)
    watch_time = models.PositiveIntegerField(_("watch time (s)"))
    enter_time = models.DateTimeField(_("first entry"), null=True, blank=True)
    leave_time = models.DateTimeField(_("last exit"), null=True, blank=True)
    is_comment = models.BooleanField(_("commented"), default=False)

    class Meta:
        verbose_name = _("visitor watch row")
        verbose_name_plural = _("visitor watch rows")
        ordering = ["living", "position"]
        constraints = [
            models.UniqueConstraint(fields=["living", "position"], name="unique_visitor_position")
        ]

    def __str__(self):
        return self.nickname


class StudentUnwatch(models.Model):
    """One row of get_unwatch_stat: a subscribed family whose student did not watch."""

    living = models.ForeignKey(Living, on_delete=models.CASCADE, related_name="unwatches")
    student = models.ForeignKey(
        Student,
        to_field="student_userid",
        db_column="student_userid",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="unwatches",
        verbose_name=_("student userid"),
    )
    parent_userid = models.CharField(_("parent userid"), max_length=64, blank=True)
    partyids = models.JSONField(_("class ids"), default=list)

    class Meta:
        verbose_name = _("unwatched row")
        verbose_name_plural = _("unwatched rows")
        constraints = [
            models.UniqueConstraint(
                fields=["living", "student", "parent_userid"], name="unique_student_unwatch"
            )
        ]

    def __str__(self):
        return f"{self.student_id} ✗ {self.living_id}"


class AttendancePolicy(models.Model):
    """The school's defaults for attendance verdicts; one row. Classes may override the threshold."""

    present_threshold = models.PositiveSmallIntegerField(
        _("present threshold (%)"),
        default=80,
        help_text=_("A student who watched at least this share of the living counts as present."),
    )
    late_grace_minutes = models.PositiveSmallIntegerField(_("late after (minutes)"), default=5)
    early_leave_grace_minutes = models.PositiveSmallIntegerField(
        _("left early if before the end by (minutes)"), default=5
    )

    class Meta:
        verbose_name = _("attendance policy")
        verbose_name_plural = _("attendance policy")

    def __str__(self):
        return str(_("School attendance policy"))

    @classmethod
    def current(cls) -> "AttendancePolicy":
        policy, _created = cls.objects.get_or_create(pk=1)
        return policy


class SyncRun(models.Model):
    class Kind(models.TextChoices):
        SCHOOL = "school", _("full school")
        ROSTER = "roster", _("roster")
        DISCOVERY = "discovery", _("living discovery")
        LIVING = "living", _("living stats")
        SWEEP = "sweep", _("recent livings sweep")

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    living = models.ForeignKey(
        Living,
        verbose_name=_("living"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sync_runs",
    )
    livingid = models.CharField(_("living id"), max_length=128, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    task_id = models.CharField(_("task id"), max_length=64, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("queued at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    pages = models.PositiveIntegerField(_("pages"), default=0)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    error = models.TextField(_("error"), blank=True)
    # Lets the sweep tell a living WeCom will never serve (92008) from a failure worth retrying.
    errcode = models.IntegerField(
        _("WeCom errcode"),
        null=True,
        blank=True,
        help_text=_("The WeCom error code the run failed with, if it failed on a WeCom error."),
    )

    class Meta:
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "started_at"]),
            models.Index(fields=["kind", "-created_at"]),
        ]

    def __str__(self):
        target = self.livingid or self.get_kind_display()
        return f"{target} · {self.get_status_display()}"

    @property
    def duration(self) -> dt.timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None
