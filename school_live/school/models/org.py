"""Departments (grades, classes), teachers, students, parents and how they are linked."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .fields import school_field


class Department(models.Model):
    class Type(models.IntegerChoices):
        # WeCom doc 92343: school/department/list `type`.
        CLASS = 1, _("class")
        GRADE = 2, _("grade")
        STAGE = 3, _("stage")
        CAMPUS = 4, _("campus")
        SCHOOL = 5, _("school")

    school = school_field()
    # WeCom's id of the department: unique only within the school (every school has its 1).
    wecom_id = models.BigIntegerField(_("WeCom department id"))
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
    # The audit trail of the one field the school owns here, the class's threshold: the roster
    # sync writes in bulk (no save(), no history row), so the history holds the admins' edits.
    history = HistoricalRecords(excluded_fields=["synced_at", "order"])

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["type", "-order", "wecom_id"]
        indexes = [models.Index(fields=["type", "is_active"])]
        constraints = [
            models.UniqueConstraint(
                fields=["school", "wecom_id"], name="unique_department_wecom_id"
            )
        ]

    def __str__(self):
        return self.name


class Teacher(models.Model):
    """A teacher of the school as WeCom's 家校通讯录 lists them. WeCom's school APIs give a
    teacher's userid only (department_admins), never a name: the name is the school's, typed in
    the admin, and where there is none the pages say so (``display_name``)."""

    school = school_field()
    userid = models.CharField(_("WeCom userid"), max_length=64)
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
        constraints = [
            models.UniqueConstraint(fields=["school", "userid"], name="unique_teacher_userid")
        ]

    def __str__(self):
        # Admin lists and choices: the userid tells apart teachers without a name.
        if self.name:
            return self.name
        return f"{self.display_name} · {self.userid}"

    @property
    def display_name(self) -> str:
        """How every page, message and error names the teacher: their name, or words that say
        WeCom gave none (never the login id alone)."""
        # Translators: shown where a teacher's name belongs when WeCom gave none, e.g.
        # 老师（企业微信未提供姓名）
        return self.name or str(_("a teacher (WeCom gave no name)"))


class ClassAssignment(models.Model):
    class Role(models.TextChoices):
        # department_admins[].type 3 and 4.
        HEAD = "head", _("head teacher")
        SUBJECT = "subject", _("subject teacher")

    school = school_field()
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
    school = school_field()
    student_userid = models.CharField(_("WeCom student userid"), max_length=64)
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
        constraints = [
            # Also the key watch and unwatch rows join by (fields.student_of_row_field).
            models.UniqueConstraint(
                fields=["school", "student_userid"], name="unique_student_userid"
            )
        ]

    def __str__(self):
        return self.name or self.student_userid


class Enrollment(models.Model):
    school = school_field()
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
    school = school_field()
    parent_userid = models.CharField(_("WeCom parent userid"), max_length=64)
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
        constraints = [
            models.UniqueConstraint(fields=["school", "parent_userid"], name="unique_parent_userid")
        ]

    def __str__(self):
        return self.parent_userid


class Guardianship(models.Model):
    school = school_field()
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
